"""The CI rule, proven on pytest itself: a missing real server skips a test and says why on a
laptop, and fails the run under CI=true, for a service fixture and for the PostgreSQL suite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

NEEDS_NOTHING = """
from tests.services import Service, require


def test_needs_a_server():
    require(Service("Nothing", "redis://127.0.0.1:1", "X"))
"""
NOTHING_REASON = "Nothing is not reachable at 127.0.0.1:1; start it or point X at one"

NEEDS_THE_DB = """
from django.contrib.auth import get_user_model


def test_reads_the_database(db):
    assert get_user_model().objects.count() == 0
"""
POSTGRES_REASON = (
    "PostgreSQL is not reachable at 127.0.0.1:1; start it or point DATABASE_URL at one"
)
NO_POSTGRES = "postgresql://postgres@127.0.0.1:1/x"


def run_pytest(
    test_file: Path, *, ci: bool, database_url: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run pytest on one file as `make test` would (this repo's settings and tests/conftest.py)."""
    env = {k: v for k, v in os.environ.items() if k not in {"CI", "DATABASE_URL"}}
    env["FIGKIT_VAR_DIR"] = str(test_file.parent / "var")
    if ci:
        env["CI"] = "true"
    if database_url:
        env["DATABASE_URL"] = database_url
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(test_file),
            "-c",
            str(REPO / "pyproject.toml"),
            "-p",
            "tests.conftest",
            "-p",
            "no:cacheprovider",
            "-rs",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def needs_nothing(tmp_path) -> Path:
    path = tmp_path / "test_needs_nothing.py"
    path.write_text(NEEDS_NOTHING)
    return path


@pytest.fixture
def needs_the_db(tmp_path) -> Path:
    path = tmp_path / "test_needs_the_db.py"
    path.write_text(NEEDS_THE_DB)
    return path


def test_missing_service_skips_with_the_reason_outside_ci(needs_nothing):
    result = run_pytest(needs_nothing, ci=False)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 skipped" in result.stdout
    assert NOTHING_REASON in result.stdout


def test_missing_service_fails_the_run_under_ci(needs_nothing):
    result = run_pytest(needs_nothing, ci=True)

    assert result.returncode != 0
    assert "1 failed" in result.stdout
    assert f"{NOTHING_REASON} (CI=true: real-service tests may not skip)" in result.stdout


def test_missing_postgres_skips_the_database_tests_with_the_reason_outside_ci(needs_the_db):
    result = run_pytest(needs_the_db, ci=False, database_url=NO_POSTGRES)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 skipped" in result.stdout
    assert POSTGRES_REASON in result.stdout


def test_missing_postgres_stops_the_run_under_ci(needs_the_db):
    result = run_pytest(needs_the_db, ci=True, database_url=NO_POSTGRES)

    assert result.returncode != 0
    assert "passed" not in result.stdout and "skipped" not in result.stdout
    assert (
        f"{POSTGRES_REASON} (CI=true: real-service tests may not skip)"
        in result.stdout + result.stderr
    )
