"""The documentation builds with warnings as errors, so a broken docstring or page fails CI.

The gallery's examples are not run here (``plot_gallery=0``): tests/test_examples.py runs them.
"""

import importlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PUBLIC_MODULES = [
    "sklearn_hier",
    "sklearn_hier.audio",
    "sklearn_hier.datasets",
    "sklearn_hier.experiments",
    "sklearn_hier.metrics",
    "sklearn_hier.model_selection",
    "sklearn_hier.nn",
    "sklearn_hier.plotting",
    "sklearn_hier.taxonomy",
]
# The version string, shown by show_versions() and --version rather than documented.
NOT_IN_API = {"__version__"}


def test_every_public_name_is_in_the_api_reference():
    api = (ROOT / "docs" / "api.rst").read_text()
    # A class or function in an autosummary list, or a constant in a ``.. data::`` entry.
    listed = set(re.findall(r"^   (\w+)$", api, flags=re.M)) | set(re.findall(r"^\.\. data:: (\w+)$", api, flags=re.M))
    public = {name for module in PUBLIC_MODULES for name in importlib.import_module(module).__all__}
    assert public - NOT_IN_API - listed == set()


def test_docs_never_point_outside_the_repository():
    pages = [*ROOT.joinpath("docs").rglob("*.md"), ROOT / "README.md"]
    for page in pages:
        text = page.read_text()
        assert "shared/" not in text and "/work/" not in text, page


def test_sphinx_builds_without_warnings(tmp_path):
    pytest.importorskip("sphinx", reason="the docs extra is not installed (pip install -e '.[docs]')")
    # A copy, so the build's generated pages never land in the source tree.
    built = shutil.ignore_patterns("_build", "generated", "auto_examples", "*.npz")
    for name in ["docs", "examples"]:
        shutil.copytree(ROOT / name, tmp_path / name, ignore=built)
    for name in ["README.md", "CHANGELOG.md", "CITATION.cff"]:
        shutil.copy(ROOT / name, tmp_path / name)
    env = {**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", "-D", "plot_gallery=0"]
    result = subprocess.run([*cmd, "docs", "docs/_build/html"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    html = tmp_path / "docs" / "_build" / "html"
    assert (html / "generated" / "sklearn_hier.HierarchicalEmbedder.html").exists()
    assert (html / "auto_examples" / "plot_pytorch_loop.html").exists()
