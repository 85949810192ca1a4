"""Resolving model parameters, and every offline model, tokenizer and vector asset loading for real."""
import time
from urllib.error import URLError

import pytest

from utils import models
from utils.models import HubUnavailable, from_pretrained_args, load_tokenizer, load_word_vectors, model_path


def test_hub_ids_pass_through_unchanged_when_online(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    assert from_pretrained_args("microsoft/Phi-3-mini-4k-instruct") == {
        "pretrained_model_name_or_path": "microsoft/Phi-3-mini-4k-instruct"}


@pytest.mark.parametrize("load", [
    lambda: load_tokenizer("microsoft/Phi-3-mini-4k-instruct"),
    lambda: model_path("sentence-transformers/all-mpnet-base-v2"),
    lambda: __import__("utils.data", fromlist=["x"]).load_movie_reviews("rotten_tomatoes"),
    lambda: load_word_vectors("glove-wiki-gigaword-50"),
], ids=["tokenizer", "embedder", "dataset", "gensim-data"])
def test_a_hub_id_while_offline_fails_in_seconds_naming_the_fix(load):
    start = time.perf_counter()
    with pytest.raises(HubUnavailable, match="offline:"):
        load()
    assert time.perf_counter() - start < 5


def test_a_hub_id_in_the_local_cache_is_allowed_offline(monkeypatch, tmp_path):
    import huggingface_hub.constants
    (tmp_path / "models--someone--tiny").mkdir()
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    assert model_path("someone/tiny") == "someone/tiny"


def test_tabular_assets_are_not_from_pretrained_models():
    with pytest.raises(models.assets.AssetError, match="cannot be loaded with from_pretrained"):
        from_pretrained_args("offline:glove-6b-50d")


def test_gpt2_tokenizer_facts_from_the_book():
    gpt2 = load_tokenizer("offline:gpt2-tokenizer")
    assert gpt2("🎵").input_ids == [8582, 236, 113] and gpt2.decode([8582, 236, 113]) == "🎵"
    assert gpt2("\t").input_ids == [197] and gpt2(" ").input_ids == [220]
    assert len(gpt2) == 50257


def test_bert_uncased_tokenizer_matches_the_book():
    bert = load_tokenizer("offline:bert-base-uncased-tokenizer")
    tokens = bert.convert_ids_to_tokens(bert("English and CAPITALIZATION\n🎵 鸟").input_ids)
    assert tokens == ["[CLS]", "english", "and", "capital", "##ization", "[UNK]", "[UNK]", "[SEP]"]


def test_gpt4_tokenizer_is_cl100k_with_its_special_ids():
    gpt4 = load_tokenizer("offline:gpt4-tokenizer")
    text = "Have the bards who preceded me left any theme unsung?"
    assert len(gpt4(text).input_ids) == 13 and len(text) == 53       # the book's Figure 2-3
    assert gpt4.convert_tokens_to_ids("<|endoftext|>") == 100257
    assert gpt4("<|endoftext|>").input_ids == [100257]


@pytest.mark.parametrize("name, size", [("offline:starcoder2-tokenizer", 49152),
                                        ("offline:llama3-tokenizer", 128256),
                                        ("offline:qwen2-tokenizer", 151936)])
def test_newer_tokenizers_load(name, size):
    tokenizer = load_tokenizer(name)
    assert tokenizer.vocab_size == size
    assert tokenizer.decode(tokenizer("def add(a, b):\n\treturn a + b").input_ids, skip_special_tokens=True) \
        == "def add(a, b):\n\treturn a + b"


def test_sentence_embedder_encodes_meaning():
    from sentence_transformers import SentenceTransformer
    embedder = SentenceTransformer(model_path("offline:all-minilm-l6-v2"), device="cpu")
    vectors = embedder.encode(["The best movie ever!", "I loved this film so much.", "The stock market fell."],
                              normalize_embeddings=True)
    assert vectors.shape == (3, 384)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.3


def test_gensim_data_while_offline_fails_fast_without_the_network(monkeypatch, tmp_path):
    import gensim.downloader

    def load(name):
        raise AssertionError("gensim.downloader.load reaches for the network")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(gensim.downloader, "BASE_DIR", str(tmp_path))
    monkeypatch.setattr(gensim.downloader, "load", load)
    start = time.perf_counter()
    with pytest.raises(HubUnavailable, match=r"'no-such-vectors' is a gensim-data name.*'offline:glove-6b-50d'"):
        load_word_vectors("no-such-vectors")
    assert time.perf_counter() - start < 1


def test_gensim_data_already_downloaded_loads_while_offline(monkeypatch, tmp_path):
    """A gensim-data folder as gensim.downloader leaves it (information.json, <name>/__init__.py with load_data)
    loads through gensim's own loader with the Hub switched off and no network."""
    import json
    import sys

    import gensim.downloader
    import numpy as np
    from gensim.models import KeyedVectors
    name = "tiny-test-vectors-3"
    vectors = KeyedVectors(vector_size=3)
    vectors.add_vectors(["king", "queen"], np.array([[1, 0, 0], [0, 1, 0]], dtype=np.float32))
    (tmp_path / name).mkdir()
    vectors.save(str(tmp_path / name / "vectors.kv"))
    (tmp_path / name / "__init__.py").write_text(
        "import os\nfrom gensim.models import KeyedVectors\n\n\ndef load_data():\n"
        "    return KeyedVectors.load(os.path.join(os.path.dirname(__file__), 'vectors.kv'))\n")
    catalogue = {"corpora": {}, "models": {name: {"file_name": "vectors.kv"}}}
    (tmp_path / "information.json").write_text(json.dumps(catalogue))

    def no_network(url):
        raise OSError(f"no network for {url}")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(gensim.downloader, "BASE_DIR", str(tmp_path))
    monkeypatch.setattr(gensim.downloader, "urlopen", no_network)     # gensim falls back to its information.json
    monkeypatch.setattr(sys, "path", list(sys.path))                  # gensim puts BASE_DIR in front to import name
    monkeypatch.delitem(sys.modules, name, raising=False)
    loaded = load_word_vectors(name)
    assert loaded.index_to_key == ["king", "queen"] and loaded.most_similar("king", topn=1)[0][0] == "queen"


@pytest.mark.parametrize("error, expected", [(URLError("no route to host"), HubUnavailable),
                                             (ValueError("bad name"), ValueError)])
def test_gensim_data_online_wraps_only_network_failures(monkeypatch, error, expected):
    import gensim.downloader

    def load(name):
        raise error
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(gensim.downloader, "load", load)
    with pytest.raises(expected) as caught:
        load_word_vectors("glove-wiki-gigaword-50")
    if expected is ValueError:
        assert caught.value is error
    else:
        assert caught.value.__cause__ is error and "offline:glove-6b-50d" in str(caught.value)


def test_an_unconverted_asset_fails_naming_the_installer(monkeypatch, tmp_path):
    monkeypatch.setattr(models, "converted_folder", lambda name: tmp_path / "never-converted")
    with pytest.raises(models.assets.AssetError, match="never-converted is missing. Convert it: make assets"):
        from_pretrained_args("offline:smollm2-135m-instruct")


def test_the_conversion_is_keyed_by_the_converters_versions(monkeypatch):
    import importlib.metadata as md
    now = models.converted_folder("offline:smollm2-135m-instruct")
    real = md.version
    monkeypatch.setattr(md, "version", lambda name: "99.0" if name == "gguf" else real(name))
    upgraded = models.converted_folder("offline:smollm2-135m-instruct")
    assert upgraded != now and upgraded.parent == now.parent and "gguf99.0" in upgraded.name
