"""What a replay sees, shown on one-off notebooks recorded and replayed here the way `make record` and `make test` do
(nbclient, then nbval with the suite's sanitizer, the recording and the replays sharing one results folder): a change
in the helper that computes a cached result, or in what a figure draws, fails the next replay; no change passes."""
import os
import subprocess
import sys

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from tools.run import OFFLINE_ENV
from utils.paths import ROOT

pytestmark = pytest.mark.notebook

CACHED = """import sys
sys.path.insert(0, {folder!r})
import torch
import helper_for_replay
from utils.cache import cached
torch.manual_seed(0)
model = torch.nn.Linear(2, 2)
rows = cached(model, ["a", "b", "c"], lambda texts: helper_for_replay.rows(len(texts)))
print("sum of the cached rows:", rows.sum())"""

FIGURE = """import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(4, 3))
ax.scatter(*helper_for_replay.points().T)
ax.set_title("points")
plt.show()"""

HELPER = """import numpy as np
def rows(n):
    return np.ones((n, 2)) * {scale}
def points():
    xy = np.arange(40.0).reshape(20, 2)
    xy[7] += {shift}
    return xy
"""


@pytest.fixture
def recorded(tmp_path):
    """(replay, helper file): a notebook of the two cells above recorded with the helper as first written;
    replay() runs nbval on it in a fresh process and returns (passed, output)."""
    helper = tmp_path / "helper_for_replay.py"
    helper.write_text(HELPER.format(scale=2.0, shift=0.0))
    env = {**os.environ, **OFFLINE_ENV, "HOLLM_COMPUTED": str(tmp_path / "computed"),
           "HOLLM_OUTPUT": str(tmp_path / "output"), "PYTHONPATH": str(ROOT)}
    kernel = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    nb = new_notebook(cells=[new_code_cell(CACHED.format(folder=str(tmp_path))), new_code_cell(FIGURE)],
                      metadata=kernel)
    from nbclient import NotebookClient
    saved = dict(os.environ)
    os.environ.update(env)                      # the kernel nbclient starts inherits this process's environment
    try:
        NotebookClient(nb, timeout=120, kernel_name="python3",
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    nbformat.write(nb, tmp_path / "recording.ipynb")

    def replay():
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                               "--nbval", "--nbval-current-env", "--nbval-sanitize-with",
                               str(ROOT / "tests" / "nbval_sanitize.cfg"), "--rootdir", str(tmp_path),
                               str(tmp_path / "recording.ipynb")],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        return done.returncode == 0, done.stdout + done.stderr
    return replay, helper


@pytest.mark.slow
def test_a_changed_helper_or_a_moved_figure_point_fails_the_next_replay(recorded):
    replay, helper = recorded
    passed, output = replay()
    assert passed, output                                            # nothing changed: the replay loads and passes
    helper.write_text(HELPER.format(scale=2.5, shift=0.0))           # what computes the cached rows changed
    passed, output = replay()
    assert not passed and "Cell 0: Cell outputs differ" in output, output      # nbval's diff: 12.0 recorded, 15.0 now
    assert "rows: 15.0" in output and "rows: 12.0" in output and "Cell 1: Cell outputs differ" not in output, output
    helper.write_text(HELPER.format(scale=2.0, shift=1.5))           # one of 20 points moved: only the figure shows it
    passed, output = replay()
    assert not passed and "Cell 1: Cell outputs differ" in output and "text/plain" in output, output
    assert "Cell 0: Cell outputs differ" not in output, output
