"""The project's own promises: README's commands, CI and the command line."""

import re
import subprocess
import sys
from pathlib import Path

from sklearn_hier.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _quick_start_commands():
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(?:bash|sh|console)?\n(.*?)```", section, flags=re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_readme_quick_start_has_exactly_two_commands():
    commands = _quick_start_commands()
    assert len(commands) == 2, commands
    assert "pytest" in commands[1] and "sklearn-hier" in commands[0]


def test_ci_runs_readme_test_command_verbatim():
    test_command = _quick_start_commands()[1]
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert test_command in ci_lines


def test_info_prints_versions_and_device(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"torch: 2\.11\.0", out)
    assert re.search(r"device: (cpu|cuda) \(", out)


def test_console_script_entry_point_runs():
    result = subprocess.run([sys.executable, "-m", "sklearn_hier.cli", "info"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "scikit-learn" in result.stdout
