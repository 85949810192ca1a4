"""make book-rows (tools/book_rows.py): embeddings are cached in chunks, so a run stopped by its time budget leaves
what it encoded and the next run encodes only the rest; the estimate comes before any chunk is encoded."""
import time

import numpy as np
import pytest
import torch

from tools import book_rows
from utils import cache


class CountingEmbedder(torch.nn.Linear):
    """A model that cache.cached can fingerprint, whose encode counts the texts it is given."""
    def __init__(self):
        super().__init__(2, 2)
        self.encoded = []

    def encode(self, texts, batch_size=32):
        self.encoded += list(texts)
        return np.array([[len(t), t.count("o")] for t in texts], dtype=float)


@pytest.fixture
def chunked(monkeypatch, tmp_path):
    monkeypatch.setattr(book_rows, "CHUNK", 2)
    monkeypatch.setattr(book_rows, "TIMES", tmp_path / "seconds.json")
    monkeypatch.setattr(cache, "FOLDER", tmp_path / "results")
    return [f"review {'o' * i}" for i in range(5)]


def test_a_run_out_of_budget_encodes_nothing_more_and_the_next_encodes_only_what_is_missing(chunked, capsys):
    texts, model = chunked, CountingEmbedder()
    with pytest.raises(book_rows.OutOfBudget, match="run again to carry on"):
        book_rows.embed("fake", model, texts, started=time.perf_counter() - 10, budget_s=1)
    assert "5 of 5 texts to encode" in capsys.readouterr().out
    assert model.encoded == texts                       # the speed sample only: no chunk was encoded
    book_rows.embed("fake", model, texts[:2], started=time.perf_counter())   # an earlier run did the first chunk
    model.encoded = []
    vectors, seconds = book_rows.embed("fake", model, texts, started=time.perf_counter())
    assert model.encoded == texts + texts[2:]           # the sample, then the two chunks not cached
    assert np.array_equal(vectors, model.encode(texts)) and seconds > 0     # every chunk's time kept, the first's too
    assert "3 of 5 texts to encode" in capsys.readouterr().out
    model.encoded = []
    book_rows.embed("fake", model, texts, started=time.perf_counter())
    assert model.encoded == [] and "all 5 texts cached" in capsys.readouterr().out
