"""The runner: papermill execution, the report, failures named by cell, and never writing over chapters/."""
import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from utils import run


def notebook(path, *sources):
    cells = [new_markdown_cell("# A test chapter"),
             new_code_cell("value = 2", metadata={"tags": ["parameters"]})]
    cells += [new_code_cell(s) for s in sources]
    nb = new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                             "language": "python"}})
    nbformat.write(nb, path)


@pytest.fixture
def tiny_chapters(tmp_path, monkeypatch):
    folder = tmp_path / "chapters"
    (folder / "profiles" / "offline").mkdir(parents=True)
    notebook(folder / "ch98_works.ipynb", "from utils.run import record\nrecord(doubled=value * 2)")
    notebook(folder / "ch99_breaks.ipynb", "print('fine so far')", "raise ValueError('the model id is wrong')")
    for stem in ("ch98_works", "ch99_breaks"):
        (folder / "profiles" / "offline" / f"{stem}.yaml").write_text("value: 21\n")
    monkeypatch.setattr(run, "CHAPTERS", folder)
    monkeypatch.setattr(run, "PROFILES", folder / "profiles")
    return folder


def test_a_failed_chapter_fails_the_run_and_the_report_names_the_cell(tiny_chapters, tmp_path, capsys):
    out = tmp_path / "build"
    assert run.main(["--out", str(out), "-p", "value", "5"]) == 1
    rows = {r["chapter"]: r for r in json.loads((out / "report.json").read_text())}
    assert rows["ch98_works"]["status"] == "ok" and rows["ch98_works"]["results"] == {"doubled": 10}
    assert rows["ch99_breaks"]["status"] == "FAILED"
    failed = rows["ch99_breaks"]["failed"]
    assert "code cell 3" in failed and "ValueError: the model id is wrong" in failed
    assert rows["ch98_works"]["wall_s"] > 0 and rows["ch98_works"]["peak_mib"] > 50
    report = (out / "report.md").read_text()
    assert "| ch99_breaks | FAILED |" in report and "- doubled: 10" in report
    assert (out / "ch98_works.ipynb").exists()


def test_the_offline_profile_parameters_are_applied(tiny_chapters, tmp_path):
    out = tmp_path / "build"
    assert run.main(["ch98", "--out", str(out)]) == 0
    assert json.loads((out / "report.json").read_text())[0]["results"] == {"doubled": 42}


def test_the_runner_never_writes_into_chapters(tiny_chapters):
    with pytest.raises(SystemExit, match="never writes over the chapters"):
        run.main(["--out", str(tiny_chapters / "sub")])


def test_unknown_chapter_and_profile_are_clear_errors(tiny_chapters, tmp_path):
    with pytest.raises(SystemExit, match="No chapter matches 'ch42'.*ch98_works"):
        run.main(["ch42", "--out", str(tmp_path)])
    with pytest.raises(SystemExit, match="Unknown profile 'fast'"):
        run.main(["--profile", "fast", "--out", str(tmp_path)])


def test_recordings_are_offline_without_overrides(tmp_path):
    with pytest.raises(SystemExit, match="offline profile and no overrides"):
        run.main(["--record", "-p", "device", "cuda", "--out", str(tmp_path)])
