"""The book's printed numbers that chapter 2 checks in its cells, checked here against the references directly: the
offline copies of the book's tokenizers and vectors must give them, the chapter must hold the book's values (copied
here from the book), and its checks must stop a run that gives anything else."""
import copy

import numpy as np
import pytest
import torch
from gensim.test.utils import datapath

from chapter_code import cell, value
from utils import assets
from utils.models import load_tokenizer, load_word_vectors

# as the book prints them
BOOK_PROMPT_IDS = [1, 14350, 385, 4876, 27746, 5281, 304, 19235, 363, 278, 25305, 293, 16423, 292, 286, 728, 481,
                   29889, 12027, 7420, 920, 372, 9559, 29889, 32001]
BOOK_PIECES = {3323: "Sub", 622: "ject", 29901: ":"}
BOOK_KING = [("king", 1.0000001), ("prince", 0.8236179), ("queen", 0.7839043), ("ii", 0.7746230),
             ("emperor", 0.7736248), ("son", 0.7667194), ("uncle", 0.7627150), ("kingdom", 0.7542161),
             ("throne", 0.7539915), ("brother", 0.7492411), ("ruler", 0.7434254)]
BOOK_GLOVE = {"king": [0.50451, 0.68607, -0.59517, -0.022801, 0.60046], "queen": [0.37854, 1.8233, -1.2648],
              "apple": [0.52042, -0.8314, 0.49961], "banana": [-0.25522, -0.75249, -0.86655]}   # the supplement's
BOOK_EMBEDDING_123 = [[0.3374, -0.1778, -0.1690], [0.9178, 1.5810, 1.3010], [1.2753, -0.2010, -0.1606],
                      [-0.4015, 0.9666, -1.1481], [-1.1589, 0.3255, -0.6315], [-2.8400, -0.7849, -1.4096]]


def stands_for(name):
    return (assets.get(name)[1].replaces or name) if assets.is_offline_name(name) else name


@pytest.fixture(scope="module")
def phi3():
    return load_tokenizer("offline:phi3-tokenizer")


def test_the_chapter_holds_the_books_values():
    assert value("ch02", "book_ids") == BOOK_PROMPT_IDS
    assert value("ch02", "book_pieces") == BOOK_PIECES
    assert value("ch02", "book_king_neighbours") == [(w, round(s, 7)) for w, s in BOOK_KING]
    assert value("ch02", "book_weights") == BOOK_EMBEDDING_123
    assert value("ch02", "book_glove") == BOOK_GLOVE


def test_phi3s_tokenizer_gives_the_books_25_prompt_ids_and_pieces(phi3):
    prompt = value("ch02", "request") + "<|assistant|>"
    assert phi3(prompt).input_ids == BOOK_PROMPT_IDS
    assert {i: phi3.decode(i) for i in BOOK_PIECES} == BOOK_PIECES and phi3.decode([3323, 622]) == "Subject"


def run_phi3_cells(tokenizer):
    ns = {"phi3": tokenizer, "request": value("ch02", "request")}
    exec(cell("ch02", "book_ids = ["), ns)
    exec(cell("ch02", "book_pieces = {"), ns)
    return ns


class Drifted:
    """Phi-3's tokenizer, except that one piece comes out with another id (what a broken conversion would do)."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer

    def __call__(self, text, **kwargs):
        encoded = self.tokenizer(text, **kwargs)
        encoded["input_ids"] = [i + 1 if i == 14350 else i for i in encoded["input_ids"]]
        return encoded

    def __getattr__(self, name):
        return getattr(self.tokenizer, name)


def test_the_chapters_phi3_cells_pass_with_phi3_stop_on_drifted_ids_and_let_other_vocabularies_pass(phi3, capsys):
    assert run_phi3_cells(phi3)["phi3_ids"] == BOOK_PROMPT_IDS
    assert "same as the book: True" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="25 ids"):
        run_phi3_cells(Drifted(phi3))                              # Phi-3's chat tokens, but one id off
    llama3 = load_tokenizer("offline:llama3-tokenizer")             # another vocabulary: shown, not checked
    assert run_phi3_cells(llama3)["phi3_ids"] != BOOK_PROMPT_IDS
    assert "same as the book: False" in capsys.readouterr().out


def facts_namespace(gpt2, gpt4):
    import pandas as pd
    return {"pd": pd, "tokenizers": {}, "load_tokenizer": load_tokenizer, "stands_for": stands_for,
            "gpt2_tokenizer": gpt2, "gpt4_tokenizer": gpt4, "phi3_tokenizer": "offline:phi3-tokenizer"}


def test_gpt2s_and_gpt4s_vocabularies_give_every_fact_the_book_states():
    ns = facts_namespace("offline:gpt2-tokenizer", "offline:gpt4-tokenizer")
    exec(cell("ch02", "bards = "), ns)
    facts = ns["facts"]
    assert len(facts) == 7 and facts["same"].all()
    assert facts.set_index("fact").loc["GPT-2 ids of 🎵", "this run"] == [8582, 236, 113]


def test_the_facts_cell_stops_when_the_books_vocabulary_gives_another_answer(monkeypatch):
    ns = facts_namespace("offline:gpt2-tokenizer", "offline:gpt4-tokenizer")
    starcoder = load_tokenizer("offline:starcoder2-tokenizer")         # a byte-level BPE too, but not GPT-2's
    ns["load_tokenizer"] = lambda name: starcoder if name == "offline:gpt2-tokenizer" else load_tokenizer(name)
    with pytest.raises(AssertionError, match="not the book's facts"):
        exec(cell("ch02", "bards = "), ns)


@pytest.fixture(scope="module")
def glove():
    return load_word_vectors("offline:glove-6b-50d")


def test_glove_gives_the_books_neighbours_of_king_to_the_printed_digits(glove):
    ours = glove.most_similar([glove["king"]], topn=11)
    assert [w for w, _ in ours] == [w for w, _ in BOOK_KING]
    assert all(abs(s - book) <= 1.5e-7 for (_, s), (_, book) in zip(ours, BOOK_KING, strict=True))


def test_the_chapters_glove_cell_stops_on_vectors_that_differ(glove):
    ns = {"word_vectors": "offline:glove-6b-50d", "stands_for": stands_for, "load_word_vectors": lambda name: glove}
    exec(cell("ch02", "book_king_neighbours = ["), ns)
    assert ns["king_neighbours"] == [(w, round(s, 7)) for w, s in BOOK_KING]
    nudged = copy.deepcopy(glove)
    nudged.vectors[nudged.key_to_index["prince"]] += 0.01 * glove["queen"]      # the same words, other digits
    nudged.fill_norms(force=True)
    ns["load_word_vectors"] = lambda name: nudged
    with pytest.raises(AssertionError):
        exec(cell("ch02", "book_king_neighbours = ["), ns)


def test_the_chapters_glove_vectors_cell_passes_on_glove_and_stops_on_other_digits(glove, capsys):
    ns = {"word_vectors": "offline:glove-6b-50d", "stands_for": stands_for, "glove": glove, "np": np}
    exec(cell("ch02", "book_glove = {"), ns)
    assert "queen: [ 0.37854  1.8233  -1.2648" in capsys.readouterr().out
    nudged = copy.deepcopy(glove)
    nudged.vectors[nudged.key_to_index["banana"], 2] += 2e-5                  # one printed digit off
    with pytest.raises(AssertionError):
        exec(cell("ch02", "book_glove = {"), {**ns, "glove": nudged})
    other_vectors = {**ns, "glove": nudged, "word_vectors": "fasttext-wiki-news-subwords-300"}   # shown, not checked
    exec(cell("ch02", "book_glove = {"), other_vectors)


def test_seed_123_draws_the_supplements_embedding_matrix():
    ns = {"torch": torch}
    exec(cell("ch02", "torch.manual_seed(123)\nembedding_layer = "), ns)
    assert torch.allclose(ns["embedding_layer"].weight, torch.tensor(BOOK_EMBEDDING_123), atol=5e-5)


def test_token_and_position_embeddings_have_the_supplements_shapes():
    ns = {"torch": torch, "datapath": datapath, "gpt2": load_tokenizer("offline:gpt2-tokenizer"), "seed": 42}
    exec(cell("ch02", "def sliding_window_batch("), ns)
    assert ns["inputs"].shape == ns["targets"].shape == (8, 4)
    assert torch.equal(ns["inputs"][:, 1:], ns["targets"][:, :-1])            # targets: the inputs shifted by one
    exec(cell("ch02", "pos_embedding_layer = "), ns)
    assert ns["token_embeddings"].shape == (8, 4, 256) and ns["input_embeddings"].shape == (8, 4, 256)
    assert torch.allclose(ns["input_embeddings"][3] - ns["token_embeddings"][3], ns["pos_embeddings"], atol=1e-6)
