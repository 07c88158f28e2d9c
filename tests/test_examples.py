"""Every gallery example runs to the end, so the examples cannot rot."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.py"))


def test_there_are_examples():
    assert len(EXAMPLES) >= 2


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(script, tmp_path):
    # A private data home keeps the soundfont render out of the user's cache; Agg draws without a
    # screen; one thread, because the other test worker holds the second core.
    env = {**os.environ, "MPLBACKEND": "Agg", "SKLEARN_HIER_DATA": str(tmp_path), "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    # The gallery shows an example's warnings, with the build machine's paths: the library's own
    # warnings (attributed to the example's line, or raised in sklearn_hier) must not be among them.
    ours = [
        line
        for line in result.stderr.splitlines()
        if "Warning:" in line and ("sklearn_hier" in line or script.name in line)
    ]
    assert ours == []
