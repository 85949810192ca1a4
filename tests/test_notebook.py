"""What a chapter's kernel takes from the runner: progress as one line when headless and a bar for a reader, the
output folder (never inside chapters/), and record()."""
import os
import subprocess
import sys

import pytest

import worktree
from tools.run import HEADLESS
from utils import notebook
from utils.paths import CHAPTERS, ROOT


def test_progress_is_one_line_when_headless_and_a_bar_for_a_reader(monkeypatch, capsys):
    monkeypatch.setenv("HOLLM_HEADLESS", "1")
    assert list(notebook.progress(range(3), "work", unit="steps")) == [0, 1, 2]
    assert capsys.readouterr().out.startswith("[progress] work: 3 steps in ")
    # a reader's kernel has neither HOLLM_HEADLESS nor the TQDM_DISABLE that headless kernels (and this test process)
    # set, and tqdm reads the latter when it is imported: so a fresh interpreter with a reader's environment
    reader = {k: v for k, v in os.environ.items() if k not in HEADLESS}
    code = "from utils import notebook; print(list(notebook.progress(range(3), 'work')))"
    done = subprocess.run([sys.executable, "-c", code], env=reader, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[0, 1, 2]" and "work: 3 batches" not in done.stdout and "3/3" in done.stderr


def test_output_folder_refuses_chapters_and_defaults_to_build(tmp_path, monkeypatch):
    monkeypatch.delenv("HOLLM_OUTPUT")
    monkeypatch.setattr(notebook, "ROOT", tmp_path / "clone")        # a reader's default, without touching build/
    assert notebook.output_folder(None, "ch99_x") == tmp_path / "clone" / "build" / "ch99_x"
    assert notebook.output_folder(str(tmp_path / "out"), "ch99_x") == tmp_path / "out"
    with pytest.raises(ValueError, match="inside chapters"):
        notebook.output_folder(str(CHAPTERS / "figures"), "ch99_x")


def test_tests_and_replays_write_chapter_files_outside_the_work_tree(tmp_path, monkeypatch):
    """conftest points HOLLM_OUTPUT, which every kernel the tests start inherits, at a scratch folder."""
    folder = notebook.output_folder(None, "ch99_x")
    assert folder.name == "ch99_x" and ROOT not in folder.parents and folder.is_dir()
    monkeypatch.setenv("HOLLM_OUTPUT", str(tmp_path / "elsewhere"))
    assert notebook.output_folder(None, "ch99_x") == tmp_path / "elsewhere" / "ch99_x"


def test_the_work_tree_guard_sees_a_file_added_rewritten_or_removed_in_build(tmp_path):
    (tmp_path / "build" / "ch05").mkdir(parents=True)
    page = tmp_path / "build" / "ch05" / "barchart.html"
    page.write_text("27 topics")
    (tmp_path / ".cache" / "results").mkdir(parents=True)
    before = worktree.snapshot(tmp_path)
    (tmp_path / ".cache" / "results" / "x.npy").write_text("a cache is state, not the work tree")
    assert worktree.changes(before, worktree.snapshot(tmp_path)) == []
    page.write_text("24 topics")
    os.utime(page, ns=(1, 1))
    (tmp_path / "build" / "ch99_x").mkdir()
    (tmp_path / "build" / "ch99_x" / "left.png").write_bytes(b"")
    assert worktree.changes(before, worktree.snapshot(tmp_path)) == [
        "added build/ch99_x/left.png", "rewritten build/ch05/barchart.html"]
    page.unlink()
    assert "removed build/ch05/barchart.html" in worktree.changes(before, worktree.snapshot(tmp_path))
