"""The result cache (utils/cache.py): results computed once and reused, damaged files rebuilt, keys that change with
the model, the inputs, what is computed and the library versions, and nbval's view of a first and a cached run."""
import numpy as np
import pytest
import torch

from utils import cache, models, notebook
from utils.paths import ROOT


@pytest.fixture(scope="module")
def embedder():
    from sentence_transformers import SentenceTransformer
    return SentenceTransformer(models.model_path("offline:all-minilm-l6-v2"), device="cpu")


def test_cached_embeddings_are_the_computed_ones_and_are_not_computed_again(embedder, tmp_path):
    texts, calls = ["a fine film", "a dull film"], []

    def encode(batch):
        calls.append(batch)
        return embedder.encode(batch)
    first = cache.cached(embedder, texts, encode, folder=tmp_path)
    second = cache.cached(embedder, texts, encode, folder=tmp_path)
    assert len(calls) == 1 and np.array_equal(first, second)
    np.testing.assert_array_equal(second, embedder.encode(texts))
    cache.cached(embedder, texts[::-1], encode, folder=tmp_path)       # other texts: computed
    cache.cached(embedder, texts, encode, what="other", folder=tmp_path)
    assert len(calls) == 3


def test_a_damaged_or_partial_cache_file_is_rebuilt_not_used(embedder, tmp_path, capsys):
    texts = ["a fine film", "a dull film"]
    good = cache.cached(embedder, texts, embedder.encode, folder=tmp_path)
    [array_file] = tmp_path.glob("*.npy")
    array_file.write_bytes(array_file.read_bytes()[:-100])                          # cut short
    again = cache.cached(embedder, texts, embedder.encode, folder=tmp_path)
    assert "computing them again" in capsys.readouterr().out and np.array_equal(good, again)
    flipped = bytearray(array_file.read_bytes())
    flipped[-1] ^= 0xFF                                                              # same size, one value changed
    array_file.write_bytes(bytes(flipped))
    assert np.array_equal(cache.cached(embedder, texts, embedder.encode, folder=tmp_path), good)
    assert "does not match its record" in capsys.readouterr().out
    [record_file] = tmp_path.glob("*.json")
    for record in ("{}", "[1, 2]", "not json"):                                      # a record that says nothing
        record_file.write_text(record)
        assert np.array_equal(cache.cached(embedder, texts, embedder.encode, folder=tmp_path), good)
        assert "are unreadable" in capsys.readouterr().out


def test_another_model_behind_the_same_name_gets_its_own_cache(embedder, tmp_path):
    before = cache.fingerprint(embedder)
    weight = embedder[0].auto_model.encoder.layer[3].output.dense.weight
    kept = weight.detach().clone()
    with torch.no_grad():
        weight[0, 0] += 1.0
    try:
        assert cache.fingerprint(embedder) != before
    finally:
        with torch.no_grad():
            weight.copy_(kept)
    assert cache.fingerprint(embedder) == before


def test_a_first_run_and_a_cached_run_compare_equal_under_the_sanitizer(embedder, tmp_path, monkeypatch, capsys):
    """nbval replays recordings on a fresh clone (nothing cached) and on a developer's machine (all cached): the
    sanitizer must make the two outputs of a cell equal, and keep a real difference visible."""
    import re

    from nbval.plugin import get_sanitize_patterns
    patterns = get_sanitize_patterns((ROOT / "tests" / "nbval_sanitize.cfg").read_text())
    assert any("cache" in regex for regex, _ in patterns)

    def sanitize(text):
        for regex, replace in patterns:
            text = re.sub(regex, replace, text)
        return text
    monkeypatch.setenv("HOLLM_HEADLESS", "1")

    def cell(texts):
        def encode(batch):
            return np.stack([embedder.encode(t) for t in notebook.progress(batch, "encoding", unit="texts")])
        vectors = cache.cached(embedder, texts, encode, folder=tmp_path)
        print("shape:", vectors.shape)
        return capsys.readouterr().out
    first, cached = cell(["a fine film", "a dull film"]), cell(["a fine film", "a dull film"])
    assert first != cached and sanitize(first) == sanitize(cached) == "[cache or progress]\nshape: (2, 384)\n"
    assert sanitize(cell(["a fine film"])) != sanitize(cached)


def test_a_result_from_other_library_versions_is_computed_again(embedder, tmp_path, monkeypatch, capsys):
    """Colab's stack (another torch or transformers) must compute its own results, not read this environment's."""
    texts, calls = ["a fine film"], []

    def encode(batch):
        calls.append(batch)
        return embedder.encode(batch)
    cache.cached(embedder, texts, encode, folder=tmp_path)
    real = cache.library_versions
    monkeypatch.setattr(cache, "library_versions", lambda *a: {**real(*a), "transformers": "5.15.0"})
    cache.cached(embedder, texts, encode, folder=tmp_path)
    assert len(calls) == 2 and len(list(tmp_path.glob("*.npy"))) == 2


def test_a_loaded_result_says_what_computing_it_cost(embedder, tmp_path, capsys):
    cache.cached(embedder, ["a fine film"], embedder.encode, folder=tmp_path)
    computed = capsys.readouterr().out
    cache.cached(embedder, ["a fine film"], embedder.encode, folder=tmp_path)
    loaded = capsys.readouterr().out
    assert "computed in" in computed and "loaded from" in loaded and "computing them took" in loaded


def test_json_values_are_stored_one_file_each_as_soon_as_computed(tmp_path):
    calls = []

    def compute(value):
        def run():
            calls.append(value)
            if value == "fails":
                raise RuntimeError("no reply")
            return {"reply": value}
        return run
    first = cache.cached_json(["request", 1], compute("one"), "replies", folder=tmp_path)
    assert first["value"] == {"reply": "one"} and not first["loaded"] and first["seconds"] >= 0
    with pytest.raises(RuntimeError):
        cache.cached_json(["request", 2], compute("fails"), "replies", folder=tmp_path)
    assert len(list((tmp_path / "replies").glob("*.json"))) == 1          # what failed left nothing behind
    again = cache.cached_json(["request", 1], compute("other"), "replies", folder=tmp_path)
    assert again == {**first, "loaded": True} and calls == ["one", "fails"]
    assert cache.stored(["request", 2], "replies", folder=tmp_path) is None
    cache.json_file(["request", 1], "replies", folder=tmp_path).write_text("[1, 2]")   # not a record: ask again
    assert cache.cached_json(["request", 1], compute("new"), "replies", folder=tmp_path)["value"] == {"reply": "new"}


def test_a_changed_compute_function_or_helper_is_computed_again_not_loaded(tmp_path, monkeypatch):
    """The key covers the code that computes: the lambda, the chapter's own function it calls and a helper module's
    function that one calls. Moving code down a line changes nothing; changing a constant recomputes."""
    model = torch.nn.Linear(2, 2)
    helper = tmp_path / "helper_for_cache_test.py"
    helper.write_text("def scale(rows):\n    return rows * 2.0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib
    module = importlib.import_module("helper_for_cache_test")
    cell = ("import numpy as np\ndef rows(texts):\n    return helper_for_cache_test.scale(np.ones((len(texts), 2)))\n"
            "compute = lambda texts: rows(texts)\n")

    def chapter(source):                       # a chapter's cell as a kernel runs it: its own globals, a lambda
        space = {"helper_for_cache_test": module}
        exec(compile(source, "/tmp/ipykernel_1/1.py", "exec"), space)
        return space["compute"]

    def run(compute):
        return cache.cached(model, ["a", "b"], compute, folder=tmp_path / "results", verbose=False)
    assert run(chapter(cell))[0, 0] == 2.0
    assert len(list((tmp_path / "results").glob("*.npy"))) == 1
    assert run(chapter("\n\n# moved down, same code\n" + cell))[0, 0] == 2.0     # loaded: no second file
    assert len(list((tmp_path / "results").glob("*.npy"))) == 1
    assert run(chapter(cell.replace("np.ones", "3 * np.ones")))[0, 0] == 6.0     # the chapter's function changed
    helper.write_text("def scale(rows):\n    return rows * 5.0\n")
    importlib.reload(module)
    assert run(chapter(cell))[0, 0] == 5.0                                       # the helper changed
    assert len(list((tmp_path / "results").glob("*.npy"))) == 3
    assert cache.code_key(np.ones) == cache.code_key(np.zeros)                   # installed code: by version only


def test_a_key_reads_no_attribute_of_an_installed_module():
    """A compute function naming numpy and `str` once made the key read numpy's `np.str`, whose FutureWarning a
    chapter then wrote to stderr (the rehearsal's chapter 4): a library's attributes are library code."""
    import warnings

    def compute(texts):
        return np.array([len(str(t)) for t in texts])

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cache.code_key(compute)
