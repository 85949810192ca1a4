"""Structure of the chapters and their recordings, checked without executing anything."""
import json
import re

import nbformat
import pytest
import yaml

from tools import colab
from tools.run import PROFILES, RECORDINGS, chapters

NOTEBOOKS = chapters()


def load(path):
    return nbformat.read(path, as_version=4)


def tagged(nb, tag):
    return [c for c in nb.cells if tag in c.metadata.get("tags", [])]


def assigned_names(source):
    import ast
    return {node.target.id for node in ast.parse(source).body if isinstance(node, ast.AnnAssign)}


def test_there_are_chapters_and_names_fit_in_urls():
    assert NOTEBOOKS and all(" " not in p.name and p.name[:4] in {f"ch0{i}" for i in range(1, 6)} for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_chapter_anatomy(path):
    nb = load(path)
    assert nb.metadata.kernelspec.name == "python3"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith(f"# Chapter {int(path.name[2:4])} — ")
    assert colab.badge(path) in nb.cells[0].source, "run `python -m tools.colab`"
    setup, = tagged(nb, "setup")
    assert setup.source == colab.setup_cell(), "run `python -m tools.colab`"
    parameters, = tagged(nb, "parameters")
    names = assigned_names(parameters.source)
    assert {"device", "seed"} <= names
    assert 'device: str = "auto"' in parameters.source
    after = nb.cells[nb.cells.index(parameters) + 1]                # checked before anything loads
    assert after.source.splitlines()[-1].startswith("check_parameters(globals()")     # with the chapter's ranges
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for forbidden in (r"trust_remote_code\s*=\s*True", r"api_key\s*=\s*['\"]"):   # native models; keys from the env
        assert not re.search(forbidden, code), forbidden


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_chapters_are_stored_without_outputs(path):
    assert all(not c.get("outputs") and not c.get("execution_count") for c in load(path).cells if c.cell_type == "code")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_offline_profile_only_sets_real_parameters(path):
    profile = yaml.safe_load((PROFILES / "offline" / f"{path.stem}.yaml").read_text())
    parameters, = tagged(load(path), "parameters")
    assert set(profile) <= assigned_names(parameters.source)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_recording_matches_its_chapter(path):
    recording = RECORDINGS / path.name
    assert recording.exists(), "no recording: run `make record`"
    recorded = load(recording)
    injected, = tagged(recorded, "injected-parameters")
    code = [c.source for c in recorded.cells if c.cell_type == "code" and c is not injected]
    assert code == [c.source for c in load(path).cells if c.cell_type == "code"], \
        f"{recording} is out of date with {path}: re-record with `make record`"
    profile = yaml.safe_load((PROFILES / "offline" / f"{path.stem}.yaml").read_text())
    namespace = {}
    exec(injected.source, namespace)
    assert {k: namespace[k] for k in profile} == profile
    assert not any(o.get("output_type") == "error" for c in recorded.cells for o in c.get("outputs", []))


def test_every_recording_has_a_chapter():
    assert {p.name for p in RECORDINGS.glob("*.ipynb")} == {p.name for p in NOTEBOOKS}


def test_readme_and_colab_folder_are_generated_from_the_one_url():      # colab/requirements*: tests/test_colab.py
    readme = (colab.ROOT / "README.md").read_text()
    assert f"{colab.TABLE_START}\n{colab.chapter_table(NOTEBOOKS)}\n{colab.TABLE_END}" in readme
    assert all(colab.badge(p) in (colab.ROOT / "colab" / "README.md").read_text() for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_recordings_hold_no_machine_paths_frozen_bars_or_widget_state(path):
    recording = load(RECORDINGS / path.name)
    text = json.dumps([o for c in recording.cells for o in c.get("outputs", [])])
    assert str(colab.ROOT) not in text
    assert not re.search(r"(?<![\w.])/(?:[\w.-]+/)+(?:\.cache|site-packages|\.venv)/", text)
    assert " 0%|" not in text
    assert "widgets" not in recording.metadata
