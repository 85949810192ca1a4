"""Offline copies for JupyterLab (make lab-offline): every chapter with its offline parameters filled in, in a folder
outside chapters/, a reader's edits never overwritten, and a prepared copy that runs from there."""
import subprocess
import sys

import nbformat
import pytest
import yaml

from tools import lab, report, run


def parameters_cell(path):
    """A copy's parameters cell (the one a reader sees and edits)."""
    cell, = [c for c in nbformat.read(path, as_version=4).cells if "parameters" in c.metadata.get("tags", [])]
    return cell


def injected(path):
    """The values a copy's parameters cell sets, run as the kernel runs it."""
    values = {}
    exec(parameters_cell(path).source, values)
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
        values = injected(copy)
        assert {name: values[name] for name in profile} == profile            # in the cell the reader sees
        chapter, prepared = nbformat.read(notebook, as_version=4), nbformat.read(copy, as_version=4)
        assert not any("injected-parameters" in c.metadata.get("tags", []) for c in prepared.cells)
        assert len(prepared.cells) == len(chapter.cells)
        assert [c.source for c in prepared.cells if "parameters" not in c.metadata.get("tags", [])] == \
            [c.source for c in chapter.cells if "parameters" not in c.metadata.get("tags", [])]
        head = " ".join(line for line in parameters_cell(copy).source.splitlines() if line.startswith("# "))
        assert head.startswith("# make lab-offline set ") and f"profiles/offline/{notebook.stem}.yaml" in head
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    assert set(lab.prepare(folder).values()) == {"up to date"}
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before

    edit(folder / "ch01_introduction.ipynb", "# my note")
    assert lab.prepare(folder, ["ch01"]) == {"ch01_introduction.ipynb": "yours, kept (its chapter has not changed)"}
    assert nbformat.read(folder / "ch01_introduction.ipynb", as_version=4).cells[-1].source.endswith("# my note")


def test_a_value_keeps_its_comment_and_a_multi_line_value_is_replaced_whole():
    source = ('from typing import Optional\n\nmodels: list[str] = ["a",\n                     "b"]   # the models\n'
              'device: str = "auto"   # where\nseed = 1\n')
    filled = lab.filled_in(source, {"models": ["x"], "device": "cpu"}, "profile.yaml")
    code = [line for line in filled.splitlines() if not line.startswith("# ")]
    assert code == ["from typing import Optional", "", 'models: list[str] = ["x"]   # the models',
                    'device: str = "cpu"   # where', "seed = 1"]
    with pytest.raises(SystemExit, match="sets colour, which the parameters cell does not assign"):
        lab.filled_in(source, {"colour": "red"}, "profile.yaml")


@pytest.fixture
def two_chapters(tiny_chapters):
    def write(version):
        for stem in ("ch97_edited", "ch98_untouched"):
            tiny_chapters(stem, "value = 2", f"print('version {version}', value)", offline="value: 21\n")
    write(1)
    return write


def run_and_save(path):
    """What a reader does by running a copy and saving it: outputs and execution counts, no edit."""
    nb = nbformat.read(path, as_version=4)
    for count, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        cell.execution_count = count + 1
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="version 1 21\n")]
    nbformat.write(nb, path)


def test_a_changed_chapter_replaces_an_untouched_copy_and_goes_beside_an_edited_one(two_chapters, tmp_path):
    folder = tmp_path / "my-chapters"
    lab.prepare(folder)
    edit(folder / "ch97_edited.ipynb", "# my work")
    run_and_save(folder / "ch98_untouched.ipynb")                 # run and saved: still not the reader's own
    assert lab.prepare(folder)["ch98_untouched.ipynb"] == "up to date (your outputs kept)"
    two_chapters(2)
    outcomes = lab.prepare(folder)
    assert outcomes["ch98_untouched.ipynb"] == "updated (you had not changed it)"
    assert "print('version 2', value)" in (folder / "ch98_untouched.ipynb").read_text()
    beside, = folder.glob("ch97_edited.new-*.ipynb")
    yours, new, upstream = outcomes["ch97_edited.ipynb"].splitlines()
    assert yours == "yours, kept: you changed it, and ch97_edited has changed since it was prepared"
    assert new == f"new: {beside.name} (written), the chapter as it is now, with the offline values"
    assert upstream.startswith("changed upstream: changed: ") and "(\"print('version 2', value)\")" in upstream
    mine = (folder / "ch97_edited.ipynb").read_text()
    assert "# my work" in mine and "version 1" in mine
    assert "print('version 2', value)" in beside.read_text() and injected(beside) == {"value": 21}

    again = lab.prepare(folder)                                   # nothing new: the same words, no further file
    assert again["ch97_edited.ipynb"].splitlines()[1].startswith(f"new: {beside.name} (up to date)")
    assert again["ch98_untouched.ipynb"] == "up to date"
    assert len(list(folder.glob("*.ipynb"))) == 3

    two_chapters(3)                                               # a second upstream change: still one new copy
    third = lab.prepare(folder)["ch97_edited.ipynb"].splitlines()
    newest, = folder.glob("ch97_edited.new-*.ipynb")
    assert newest != beside and "version 3" in newest.read_text() and not beside.exists()
    assert third[1].startswith(f"new: {newest.name} (written)")
    assert third[3] == f"removed: {beside.name} (an older new version you had not changed)"
    assert "# my work" in (folder / "ch97_edited.ipynb").read_text()

    edit(newest, "# my work on the new version")                  # the reader takes it up: it is theirs now
    two_chapters(4)
    fourth = lab.prepare(folder)["ch97_edited.ipynb"].splitlines()
    assert fourth[-1] == f"also yours: {newest.name} (an older new version you changed; kept)"
    assert "# my work on the new version" in newest.read_text()
    assert len(list(folder.glob("ch97_edited.new-*.ipynb"))) == 2


def test_a_notebook_the_record_does_not_know_is_kept(two_chapters, tmp_path):
    folder = tmp_path / "my-chapters"
    lab.prepare(folder)
    (folder / lab.RECORD).unlink()
    assert set(lab.prepare(folder).values()) == {"up to date"}       # the same bytes: taken into the record
    (folder / lab.RECORD).unlink()
    edit(folder / "ch98_untouched.ipynb", "# typed in by hand")
    outcome = lab.prepare(folder)["ch98_untouched.ipynb"]
    assert outcome.startswith("yours, kept: it was not prepared here (no record of it), so it counts as yours")
    assert "# typed in by hand" in (folder / "ch98_untouched.ipynb").read_text()


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
    edit(folder / "ch97_edited.ipynb", "# mine")
    two_chapters(2)
    lab.main(["--into", str(folder), "--prepare-only"])
    listing = capsys.readouterr().out.splitlines()
    at = next(i for i, line in enumerate(listing) if line.split()[:3] == ["ch97_edited.ipynb", "yours,", "kept:"])
    assert listing[at + 1].split()[0] == "new:" and listing[at + 2].split()[:2] == ["changed", "upstream:"]
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
    assert sorted(p.name for p in folder.iterdir()) == [lab.BASES, lab.RECORD, "ch01_introduction.ipynb"]


@pytest.mark.notebook
def test_a_value_the_reader_changes_in_the_parameters_cell_is_the_one_the_chapter_uses(tmp_path):
    """The reader edits `device` in the copy's parameters cell and runs it: the chapter takes that value (it stops
    at its device cell, naming the device this machine lacks), with no other cell setting it back."""
    folder = tmp_path / "my-chapters"
    lab.prepare(folder, ["ch01"])
    copy = folder / "ch01_introduction.ipynb"
    nb = nbformat.read(copy, as_version=4)
    cell, = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert 'device: str = "cpu"' in cell.source
    cell.source = cell.source.replace('device: str = "cpu"', 'device: str = "cuda:7"')
    nbformat.write(nb, copy)
    done = subprocess.run([sys.executable, "-m", "papermill", str(copy), str(tmp_path / "executed.ipynb"),
                           "-k", "python3", "--cwd", str(folder)], capture_output=True, text=True, timeout=600)
    assert done.returncode != 0 and "cuda:7" in done.stderr, done.stderr[-3000:]
