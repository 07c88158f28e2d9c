"""The project's own promises: README's commands, CI, the command line and the built wheel."""

import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import sklearn_hier
from sklearn_hier.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _quick_start_commands():
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    # Fences pair up line by line; a ```text block shows output, not a command.
    blocks = re.findall(r"^```(\w*)\n(.*?)^```", section, flags=re.S | re.M)
    commands = [block for lang, block in blocks if lang in ("", "bash", "sh", "console")]
    return [line.strip() for block in commands for line in block.splitlines() if line.strip()]


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
    assert re.search(r"torch: \d+\.\d+", out)
    assert re.search(r"device: (cpu|cuda) \(", out)


def test_console_script_entry_point_runs():
    result = subprocess.run([sys.executable, "-m", "sklearn_hier.cli", "info"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "scikit-learn" in result.stdout


def test_dependencies_are_ranges_and_torchaudio_is_optional():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not [dep for dep in project["dependencies"] if "==" in dep], "pin exact versions only in tox envs"
    assert not [dep for dep in project["dependencies"] if dep.startswith("torchaudio")]
    assert project["optional-dependencies"]["torchaudio"] == ["torchaudio>=2.4"]
    assert project["license"] == "BSD-3-Clause"
    assert "version" in project["dynamic"]


def test_citation_carries_the_package_version_and_the_paper():
    assert f"version: {sklearn_hier.__version__}" in (ROOT / "CITATION.cff").read_text()
    assert "2501.12796" in (ROOT / "CITATION.cff").read_text()


def test_wheel_holds_only_the_package_even_next_to_a_results_folder(tmp_path):
    # A copy of the source tree with the folder `compare` writes by default, made importable-looking
    # on purpose: it is the case that once put sklearn_hier_results into site-packages.
    src = tmp_path / "src"
    ignore = shutil.ignore_patterns(".git", ".venv", ".tox", "build", "dist", "_build", "*.egg-info", "__pycache__")
    shutil.copytree(ROOT, src, ignore=ignore)
    (src / "sklearn_hier_results" / "run").mkdir(parents=True)
    (src / "sklearn_hier_results" / "__init__.py").write_text("")
    (src / "sklearn_hier_results" / "run" / "__init__.py").write_text("")
    cmd = [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "-w", str(tmp_path / "dist"), "-q"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top_level == {"sklearn_hier"}
    assert "sklearn_hier/py.typed" in names
    assert "sklearn_hier/audio/_torch_mel.py" in names
    dist_info = f"sklearn_hier-{sklearn_hier.__version__}.dist-info"
    assert f"{dist_info}/licenses/LICENSE" in names
    metadata = zipfile.ZipFile(wheel).read(f"{dist_info}/METADATA").decode()
    assert "License-Expression: BSD-3-Clause" in metadata
    assert "Provides-Extra: torchaudio" in metadata
