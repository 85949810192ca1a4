"""Chapter parameters: typed in the parameters cell, parsed like papermill's -y, typos refused before papermill
starts, values checked before anything loads."""
import json
import time
from typing import Optional

import nbformat
import pytest

from tools import run
from utils import params

NOTEBOOKS = run.chapters()


def parameters_cell(path):
    return next(c for c in nbformat.read(path, as_version=4).cells if "parameters" in c.metadata.get("tags", []))


def test_values_of_the_declared_type_pass_and_every_problem_is_named():
    namespace = {"__annotations__": {"seed": int, "lengths": list[int], "threads": Optional[int], "model": str,
                                     "device": str, "rate": float},
                 "seed": 0, "lengths": [5, 20], "threads": None, "model": "gpt2", "device": "cuda:1", "rate": 1}
    assert params.check_parameters(namespace) is None         # returns nothing: a recording shows no names list
    namespace.update(seed=True, lengths=["5"], threads=-2, model="offline:no-such-model", device="gpu", rate="x")
    with pytest.raises(params.ParameterError) as err:
        params.check_parameters(namespace)
    message = str(err.value)
    assert "seed expects int, got True (bool)" in message
    assert "lengths expects list[int], got ['5'] (list)" in message
    assert "threads=-2: expects a positive number" in message
    assert "model='offline:no-such-model'" in message and "smollm2-135m-instruct" in message   # lists known assets
    assert "device='gpu': expects 'auto', 'cpu', 'mps', 'cuda' or 'cuda:N'" in message
    assert "rate expects float, got 'x' (str)" in message


def test_empty_lists_and_texts_are_refused():
    namespace = {"__annotations__": {"lengths": list[int], "model": str}, "lengths": [], "model": " "}
    with pytest.raises(params.ParameterError,
                       match=r"lengths=\[\]: expects a non-empty list(.|\n)*model=' ': expects a non-empty text"):
        params.check_parameters(namespace)


def test_a_chapters_ranges_are_enforced_and_must_name_its_parameters():
    namespace = {"__annotations__": {"n_documents": Optional[int], "sizes": list[int], "dtype": Optional[str]},
                 "n_documents": 200, "sizes": [3, 900], "dtype": "bfloat16"}
    ranges = {"n_documents": (300, None), "sizes": (2, 500)}
    with pytest.raises(params.ParameterError) as err:
        params.check_parameters(namespace, ranges=ranges)
    assert "n_documents=200: this chapter works with at least 300" in str(err.value)
    assert "sizes=[3, 900]: this chapter works with from 2 to 500" in str(err.value)
    namespace.update(n_documents=None, sizes=[2, 500])                  # None (all) and the edges pass
    params.check_parameters(namespace, ranges=ranges)
    retries = {"__annotations__": {"retries": int}, "retries": 0}        # 0 is a size only where a range allows it
    with pytest.raises(params.ParameterError, match="retries=0: expects a positive number"):
        params.check_parameters(retries)
    params.check_parameters(retries, ranges={"retries": (0, 5)})
    namespace["dtype"] = "int8"
    with pytest.raises(params.ParameterError, match="dtype='int8': expects None .* float32, bfloat16, float16"):
        params.check_parameters(namespace)
    with pytest.raises(ValueError, match="does not declare: \\['n_docs'\\]"):
        params.check_parameters({"__annotations__": {}}, ranges={"n_docs": (1, None)})


def test_runner_values_are_parsed_like_papermill_yaml_and_text_stays_text():
    assert run.parse_value("[5, 20]", "list[int]") == [5, 20]
    assert run.parse_value("3", "int") == 3 and run.parse_value("null", "Optional[int]") is None
    assert run.parse_value("true", "bool") is True
    assert run.parse_value("yes", "str") == "yes" and run.parse_value("42", "str") == "42"
    assert run.parse_value("offline:smollm2-135m-instruct", "str") == "offline:smollm2-135m-instruct"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_parameter_is_typed_explained_and_its_default_fits(path):
    declared = run.declared(path)
    assert {"device", "seed"} <= set(declared)
    assert all(p["type"] != "None" and p["help"] for p in declared.values()), declared
    namespace = {}
    exec(parameters_cell(path).source, namespace)
    assert set(namespace["__annotations__"]) == set(declared)
    params.check_parameters(namespace)                                   # annotations agree with the defaults


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameters_listing(path, capsys):
    assert run.main([path.stem[:4], "--parameters"]) == 0
    printed = capsys.readouterr().out
    for name, p in run.declared(path).items():
        assert f"  {name}: {p['type']} = " in printed
    assert "offline profile: 'cpu'" in printed


@pytest.fixture
def typed_chapter(tiny_chapters):
    return tiny_chapters("ch96_typed", "lengths: list[int] = [1, 2]  # tokens per run\nlabel: str = 'x'  # a name",
                         "from utils.params import check_parameters\ncheck_parameters(globals())",
                         "from utils.notebook import record\nrecord(lengths=lengths, kind=type(lengths).__name__, "
                         "label=label)", offline="label: y\n")


def test_a_list_reaches_the_notebook_as_a_list(typed_chapter, tmp_path):
    out = tmp_path / "build"
    assert run.main(["--out", str(out), "-p", "lengths", "[5, 20]", "-p", "label", "123"]) == 0
    results = json.loads((out / "report.json").read_text())[0]["results"]
    assert results == {"lengths": [5, 20], "kind": "list", "label": "123"}


def test_a_typo_is_refused_before_papermill_starts(typed_chapter, tmp_path):
    with pytest.raises(SystemExit, match=r"ch96_typed has no parameter 'lenghts' \(did you mean 'lengths'\?\)"):
        run.main(["--out", str(tmp_path / "build"), "-p", "lenghts", "[5]"])
    assert not (tmp_path / "build" / "ch96_typed.ipynb").exists()


def test_a_wrong_type_fails_within_seconds_naming_the_parameter(typed_chapter, tmp_path):
    out = tmp_path / "build"
    start = time.perf_counter()
    assert run.main(["--out", str(out), "-p", "lengths", "five"]) == 1
    assert time.perf_counter() - start < 30
    row = json.loads((out / "report.json").read_text())[0]
    assert "code cell 2" in row["failed"] and "lengths expects list[int], got 'five' (str)" in row["failed"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_offline_profile_passes_the_checks(path):
    import yaml
    namespace = {}
    exec(parameters_cell(path).source, namespace)
    namespace.update(yaml.safe_load((run.PROFILES / "offline" / f"{path.stem}.yaml").read_text()))
    params.check_parameters(namespace)
