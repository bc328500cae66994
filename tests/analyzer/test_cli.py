"""The `figkit` command as a user meets it: installed on PATH, help lists every part, stubs are honest."""

import subprocess
import sys
from pathlib import Path

import pytest

FIGKIT = Path(sys.executable).with_name("figkit")


def run_figkit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(FIGKIT), *args], capture_output=True, text=True, timeout=60)


def test_help_lists_the_subcommands_of_every_part():
    result = run_figkit("--help")
    assert result.returncode == 0, result.stderr
    for command in ("analyze", "plan", "report", "proxy", "routes"):
        assert command in result.stdout
    assert "could not load" not in result.stderr


def test_no_arguments_shows_help_instead_of_doing_anything():
    result = run_figkit()
    assert "Usage" in result.stdout + result.stderr


def test_version_is_the_installed_distribution_version():
    from importlib.metadata import version

    result = run_figkit("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"figkit {version('figkit')}"


@pytest.mark.parametrize(
    "args",
    [
        ("report", "analysis.json"),
    ],
)
def test_commands_not_built_yet_say_so_and_fail(args, tmp_path):
    result = subprocess.run(
        [str(FIGKIT), *args], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert result.returncode == 1
    assert "not yet available" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == [], "a stub must not write anything"


def test_unknown_command_is_a_usage_error_without_traceback():
    result = run_figkit("frobnicate")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
