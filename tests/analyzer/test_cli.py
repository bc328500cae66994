"""The `figkit` command as a user meets it: installed on PATH, help lists every part, stubs are honest."""

import subprocess
import sys
from pathlib import Path

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


def test_report_writes_reports_from_a_saved_analysis(tmp_path):
    fixture = Path(__file__).parent / "fixtures" / "twoclusters"
    assert subprocess.run([str(FIGKIT), "analyze", str(fixture), "--out", str(tmp_path), "--format", "json"],
                          capture_output=True, timeout=120).returncode == 0  # fmt: skip
    result = subprocess.run([str(FIGKIT), "report", str(tmp_path / "analysis.json"), "--format", "html,md,dot"],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert all((tmp_path / n).stat().st_size for n in ("report.html", "report.md", "coupling.dot"))
    missing = subprocess.run(
        [str(FIGKIT), "report", str(tmp_path / "nope.json")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 2 and "run `figkit analyze PATH` first" in missing.stderr


def test_unknown_command_is_a_usage_error_without_traceback():
    result = run_figkit("frobnicate")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
