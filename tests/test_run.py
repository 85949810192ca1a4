"""The runner: papermill execution, the report, failures named by cell, and never writing over chapters/."""
import json

import pytest

from tools import engine, report, run


@pytest.fixture
def two_chapters(tiny_chapters):
    tiny_chapters("ch98_works", "value = 2", "from utils.notebook import record\nrecord(doubled=value * 2)",
                  offline="value: 21\n")
    return tiny_chapters("ch99_breaks", "value = 2", "print('fine so far')",
                         "raise ValueError('the model id is wrong')", offline="value: 21\n")


def test_a_failed_chapter_fails_the_run_and_the_report_names_the_cell(two_chapters, tmp_path, capfd):
    out = tmp_path / "build"
    assert run.main(["--out", str(out), "-p", "value", "5"]) == 1
    if engine.TRANSPORT == "ipc":                                       # Linux, macOS: kernels on IPC sockets
        assert "without encryption" not in capfd.readouterr().err
    rows = {r["chapter"]: r for r in json.loads((out / "report.json").read_text())}
    assert rows["ch98_works"]["status"] == "ok" and rows["ch98_works"]["results"] == {"doubled": 10}
    assert rows["ch99_breaks"]["status"] == "FAILED"
    failed = rows["ch99_breaks"]["failed"]
    assert "code cell 3" in failed and "ValueError: the model id is wrong" in failed
    assert rows["ch98_works"]["wall_s"] > 0 and rows["ch98_works"]["peak_mib"] > 50
    report = (out / "report.md").read_text()
    assert "| ch99_breaks | FAILED |" in report and "- doubled: 10" in report
    assert (out / "ch98_works.ipynb").exists()


@pytest.mark.notebook
def test_a_chapter_papermill_cannot_read_fails_saying_no_notebook_was_written(tmp_path):
    broken = tmp_path / "ch97_broken.ipynb"
    broken.write_text("{ this is not a notebook")
    (tmp_path / "out").mkdir()
    row = run.execute(broken, tmp_path / "out", {})
    assert row["status"] == "FAILED" and "papermill wrote no output notebook" in row["failed"]
    assert not (tmp_path / "out" / broken.name).exists()


def test_the_offline_profile_parameters_are_applied(two_chapters, tmp_path):
    out = tmp_path / "build"
    assert run.main(["ch98", "--out", str(out)]) == 0
    assert json.loads((out / "report.json").read_text())[0]["results"] == {"doubled": 42}


def test_the_runner_never_writes_into_chapters(two_chapters):
    with pytest.raises(SystemExit, match="never writes over the chapters"):
        run.main(["--out", str(two_chapters / "sub")])


def test_unknown_chapter_and_profile_are_clear_errors(two_chapters, tmp_path):
    with pytest.raises(SystemExit, match="No chapter matches 'ch42'.*ch98_works"):
        run.main(["ch42", "--out", str(tmp_path)])
    with pytest.raises(SystemExit, match="Unknown profile 'fast'"):
        run.main(["--profile", "fast", "--out", str(tmp_path)])


def test_recordings_are_offline_without_overrides(tmp_path):
    with pytest.raises(SystemExit, match="offline profile, no overrides and pinned numerics"):
        run.main(["--record", "-p", "device", "cuda", "--out", str(tmp_path)])


def test_peak_memory_is_in_mib_on_linux_and_macos():
    assert run.peak_mib(2 * 1024 * 1024, platform="linux") == 2048        # ru_maxrss counts KiB on Linux
    assert run.peak_mib(2 * 1024 ** 3, platform="darwin") == 2048         # and bytes on macOS


def test_without_wait4_the_run_still_reports_status(tiny_chapters, tmp_path, monkeypatch):
    tiny_chapters("ch95_plain", "value = 1", "from utils.notebook import record\nrecord(value=value)")
    monkeypatch.delattr(run.os, "wait4")
    assert run.main(["--out", str(tmp_path / "build")]) == 0
    row, = json.loads((tmp_path / "build" / "report.json").read_text())
    assert row["status"] == "ok" and row["peak_mib"] is None and row["results"] == {"value": 1}


def test_a_cell_that_warns_fails_its_chapter_naming_the_warning(tiny_chapters, tmp_path):
    tiny_chapters("ch94_warns", "value = 1", "print('to stdout: fine')",
                  "import warnings\nwarnings.warn('max_length clashes with max_new_tokens')")
    out = tmp_path / "build"
    assert run.main(["--out", str(out)]) == 1
    row, = json.loads((out / "report.json").read_text())
    assert row["status"] == "FAILED"
    assert "code cell 3" in row["failed"] and "UserWarning: max_length clashes with max_new_tokens" in row["failed"]
    entry, = row["stderr"]                     # the warning and the source line Python prints under it: one entry
    assert entry["cell"] == 3 and entry["expected"] is None and "warnings.warn(" in entry["text"]
    assert "UserWarning: max_length clashes" in (out / "report.md").read_text()
    assert "max_length clashes with max_new_tokens" in (out / "index.html").read_text()


def test_a_declared_stderr_line_is_reported_and_passes(tiny_chapters, tmp_path):
    folder = tiny_chapters("ch93_notes", "value = 1", "import logging\nlogging.getLogger('hub').warning('offline mode: "
                           "using the cached copy')", "import sys\nprint('an undeclared note', file=sys.stderr)")
    tiny_chapters("ch92_note", "value = 1", "import logging\nlogging.getLogger('hub').warning('offline mode: cached')")
    expected = (("offline mode", "only the rehearsal's own setting causes it"),)
    passed = run.execute(folder / "ch92_note.ipynb", tmp_path, {}, expected=expected)
    assert passed["status"] == "ok" and "failed" not in passed
    assert passed["stderr"] == [{"cell": 2, "text": "offline mode: cached",
                                 "expected": "only the rehearsal's own setting causes it"}]
    failed = run.execute(folder / "ch93_notes.ipynb", tmp_path, {}, expected=expected)
    assert failed["status"] == "FAILED"
    assert "code cell 3" in failed["failed"] and "an undeclared note" in failed["failed"]
    assert [e["expected"] for e in failed["stderr"]] == ["only the rehearsal's own setting causes it", None]
    markdown = report.markdown([passed, failed], "offline")
    assert "(expected: only the rehearsal's own setting causes it)" in markdown and "(NOT DECLARED" in markdown
