"""Results held to ranges (tools/ranges.py): each form of range, a run whose result falls outside failing with the value
and the range, and the declared ranges themselves: every file names a chapter and the results the chapter records,
and the recordings (offline profile) fall inside the offline ranges."""
import json

import nbformat
import pytest
import yaml

from tools import ranges, report, run

SPEC = {"weighted_f1": {"tfidf": {"min": 0.66, "max": 0.75}, "zero-shot": {"min": 0.6, "max": 0.7}},
        "next_token": "Paris", "clusters": {"one_of": [26, 27, 28]},
        "neighbours": {"each": [{"each": ["king", {"min": 0.999, "max": 1.001}]}, "prince"]}}


def test_results_inside_every_range_pass():
    results = {"weighted_f1": {"tfidf": 0.705, "zero-shot": 0.6, "extra": 0.1}, "next_token": "Paris",
               "clusters": 27, "neighbours": [["king", 1.0000001], "prince"], "not named": 3}
    assert ranges.problems(results, SPEC) == []


def test_each_result_outside_its_range_is_named_with_value_and_range():
    results = {"weighted_f1": {"tfidf": 0.52}, "next_token": " Lyon", "clusters": 2,
               "neighbours": [["queen", 0.78], "prince"]}
    assert ranges.problems(results, SPEC) == [
        "weighted_f1 / tfidf = 0.52, outside [0.66, 0.75]",
        "weighted_f1 / zero-shot was not recorded",
        "next_token = ' Lyon', not 'Paris'",
        "clusters = 2, not one of [26, 27, 28]",
        "neighbours / 0 / 0 = 'queen', not 'king'",
        "neighbours / 0 / 1 = 0.78, outside [0.999, 1.001]",
    ]
    assert ranges.problems({"f1": "0.7"}, {"f1": {"min": 0.6}}) == ["f1 = '0.7', outside [0.6, inf]"]
    assert ranges.problems({"f1": True}, {"f1": {"max": 2}}) == ["f1 = True, outside [-inf, 2]"]
    assert ranges.problems({"ids": [1, 2]}, {"ids": {"each": [1, 2, 3]}}) == ["ids = [1, 2], not a list of 3"]


@pytest.mark.notebook
def test_a_run_whose_result_is_out_of_range_fails_naming_value_and_range(tiny_chapters, tmp_path, monkeypatch,
                                                                         capsys):
    """A chapter that runs to its end but whose method is broken (here: its F1 is what guessing gives) fails."""
    tiny_chapters("ch98_scores", "f1 = 0.74", "from utils.notebook import record\nrecord(weighted_f1=f1)",
                  offline="f1: 0.51\n")
    (tmp_path / "ranges" / "offline").mkdir(parents=True)
    (tmp_path / "ranges" / "offline" / "ch98_scores.yaml").write_text("weighted_f1: {min: 0.70, max: 0.78}\n")
    monkeypatch.setattr(ranges, "RANGES", tmp_path / "ranges")
    out = tmp_path / "build"
    assert run.main(["--out", str(out)]) == 1
    [row] = json.loads((out / "report.json").read_text())
    assert row["status"] == "FAILED" and row["failed"] == (
        "results outside the ranges of ch98_scores.yaml: weighted_f1 = 0.51, outside [0.7, 0.78]")
    assert "out of range: weighted_f1 = 0.51, outside [0.7, 0.78]" in capsys.readouterr().out
    assert run.main(["--out", str(out), "-p", "f1", "0.74"]) == 0               # the working method passes


@pytest.mark.parametrize("profile", sorted(p.name for p in ranges.RANGES.iterdir()))
def test_every_ranges_file_is_for_a_chapter_and_names_what_it_records(profile):
    stems = {nb.stem: nb for nb in run.chapters()}
    for file in sorted((ranges.RANGES / profile).glob("*.yaml")):
        assert file.stem in stems, f"{file.name}: no chapter {file.stem}"
        source = "\n".join(c.source for c in nbformat.read(stems[file.stem], as_version=4).cells)
        for key in yaml.safe_load(file.read_text()):
            assert f"{key}=" in source, f"{file.name}: {file.stem} records no {key!r}"


@pytest.mark.parametrize("file", sorted((ranges.RANGES / "offline").glob("*.yaml")), ids=lambda f: f.stem[:4])
def test_the_recordings_fall_inside_the_offline_ranges(file):
    """The recordings are offline runs (pinned numerics): a range that excludes them is wrong, or they are."""
    recording = run.RECORDINGS / f"{file.stem}.ipynb"
    results = report.results_of(nbformat.read(recording, as_version=4))
    assert ranges.problems(results, yaml.safe_load(file.read_text())) == []
