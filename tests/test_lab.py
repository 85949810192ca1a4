"""Offline copies for JupyterLab (make lab-offline): every chapter with its offline parameters filled in, in a folder
outside chapters/, a reader's edits never overwritten, and a prepared copy that runs from there."""
import subprocess
import sys

import nbformat
import pytest
import yaml

from tools import lab, report, run


def injected(path):
    """The values of a copy's injected-parameters cell."""
    nb = nbformat.read(path, as_version=4)
    cell, = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    values = {}
    exec(cell.source, values)
    values.pop("__builtins__")
    return values


def edit(path, line):
    """What a reader does in JupyterLab: change a cell and save."""
    nb = nbformat.read(path, as_version=4)
    nb.cells[-1].source += f"\n{line}"
    nbformat.write(nb, path)


def test_every_chapter_is_prepared_with_its_offline_parameters_and_an_edit_survives(tmp_path):
    folder = tmp_path / "my-chapters"
    outcomes = lab.prepare(folder)
    assert outcomes == {nb.name: "written" for nb in run.chapters()} and len(outcomes) == 5
    for notebook in run.chapters():
        copy = folder / notebook.name
        profile = yaml.safe_load((run.PROFILES / "offline" / f"{notebook.stem}.yaml").read_text())
        assert injected(copy) == profile
        chapter, prepared = nbformat.read(notebook, as_version=4), nbformat.read(copy, as_version=4)
        assert [c.source for c in prepared.cells if c.id != "injected-parameters"] == [c.source for c in chapter.cells]
        tags = [c.metadata.get("tags", []) for c in prepared.cells]
        assert tags.index(["injected-parameters"]) == tags.index(["parameters"]) + 1
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert set(lab.prepare(folder).values()) == {"up to date"}
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before

    edit(folder / "ch01_introduction.ipynb", "# my note")
    assert lab.prepare(folder, ["ch01"]) == {"ch01_introduction.ipynb": "yours, kept (its chapter has not changed)"}
    assert nbformat.read(folder / "ch01_introduction.ipynb", as_version=4).cells[-1].source.endswith("# my note")


@pytest.fixture
def two_chapters(tiny_chapters):
    def write(version):
        for stem in ("ch97_edited", "ch98_untouched"):
            tiny_chapters(stem, "value = 2", f"print('version {version}', value)", offline="value: 21\n")
    write(1)
    return write


def test_a_changed_chapter_replaces_an_untouched_copy_and_goes_beside_an_edited_one(two_chapters, tmp_path):
    folder = tmp_path / "my-chapters"
    lab.prepare(folder)
    edit(folder / "ch97_edited.ipynb", "# my work")
    two_chapters(2)
    outcomes = lab.prepare(folder)
    assert outcomes["ch98_untouched.ipynb"] == "updated (you had not changed it)"
    assert "print('version 2', value)" in (folder / "ch98_untouched.ipynb").read_text()
    beside, = folder.glob("ch97_edited.new-*.ipynb")
    assert outcomes["ch97_edited.ipynb"] == (f"yours, kept, but STALE: ch97_edited has changed since; the new version "
                                             f"is {beside.name} beside it (written)")
    mine = (folder / "ch97_edited.ipynb").read_text()
    assert "# my work" in mine and "version 1" in mine
    assert "print('version 2', value)" in beside.read_text() and injected(beside) == {"value": 21}

    again = lab.prepare(folder)                                   # nothing new: the same words, no further file
    assert again["ch97_edited.ipynb"].endswith("beside it (up to date)")
    assert again["ch98_untouched.ipynb"] == "up to date"
    assert len(list(folder.glob("*.ipynb"))) == 3
    edit(beside, "# my work on the new version")
    assert lab.prepare(folder)["ch97_edited.ipynb"].endswith("(yours, kept (its chapter has not changed))")
    assert "# my work on the new version" in beside.read_text()
    assert "# my work" in (folder / "ch97_edited.ipynb").read_text()


def test_a_notebook_the_record_does_not_know_is_kept(two_chapters, tmp_path):
    folder = tmp_path / "my-chapters"
    lab.prepare(folder)
    (folder / lab.RECORD).unlink()
    assert set(lab.prepare(folder).values()) == {"up to date"}       # the same bytes: taken into the record
    (folder / lab.RECORD).unlink()
    edit(folder / "ch98_untouched.ipynb", "# typed in by hand")
    outcome = lab.prepare(folder)["ch98_untouched.ipynb"]
    assert "STALE" in outcome and "# typed in by hand" in (folder / "ch98_untouched.ipynb").read_text()


@pytest.mark.parametrize("inside", [".", "mine"])
def test_the_copies_never_go_into_chapters(inside):
    with pytest.raises(SystemExit, match="inside chapters/"):
        lab.prepare(run.CHAPTERS / inside)
    assert not (run.CHAPTERS / "mine").exists()


def test_lab_offline_prepares_then_opens_jupyterlab_there_with_the_hub_off(two_chapters, tmp_path, monkeypatch,
                                                                            capsys):
    for name in lab.HUB_OFF:
        monkeypatch.setenv(name, "0")
    started = []
    monkeypatch.setattr(lab.os, "execv", lambda program, argv: started.append(argv))
    folder = tmp_path / "mine"
    lab.main(["--into", str(folder), "--no-browser"])
    assert started == [[sys.executable, "-m", "jupyterlab", "--no-browser", str(folder)]]
    assert (folder / "ch97_edited.ipynb").exists() and all(lab.os.environ[name] == "1" for name in lab.HUB_OFF)
    assert "ch98_untouched.ipynb  written" in capsys.readouterr().out
    started.clear()
    assert lab.main(["--into", str(folder), "--prepare-only"]) == 0 and started == []
    with pytest.raises(SystemExit):                                   # an option for JupyterLab, which will not start
        lab.main(["--into", str(folder), "--prepare-only", "--no-browser"])


@pytest.mark.notebook
def test_a_prepared_copy_runs_from_the_readers_folder(tmp_path):
    """Chapter 1's copy, executed where it lies (outside the clone) by the python3 kernel that JupyterLab starts for
    it there: utils imports and the chapter finds its offline assets."""
    from jupyter_client.kernelspec import KernelSpecManager
    folder = tmp_path / "my-chapters"
    lab.prepare(folder, ["ch01"])
    spec = KernelSpecManager().get_kernel_spec("python3")
    assert spec.argv[0] in ("python", "python3", sys.executable)     # jupyter_client runs "python" as this interpreter
    executed = tmp_path / "executed.ipynb"
    done = subprocess.run([sys.executable, "-m", "papermill", str(folder / "ch01_introduction.ipynb"), str(executed),
                           "-k", "python3", "--cwd", str(folder)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    results = report.results_of(nbformat.read(executed, as_version=4))
    assert results["generation_model"] == "offline:smollm2-135m-instruct" and results["greedy_reply"], results
    assert sorted(p.name for p in folder.iterdir()) == [lab.RECORD, "ch01_introduction.ipynb"]
