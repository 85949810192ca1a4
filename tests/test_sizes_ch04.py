"""Chapter 4 at the edges of the sizes it accepts (issue 26). Every code cell after the parameters, as it stands in the
notebook, runs on a tiny slice of the offline reviews with real models, once with each parameter at the low end of
its range and once at the high end (past the training split, all of the test split); the chapter must reach its
last cell both times. Outside the ranges it must stop in the cell that checks them, before anything loads, naming
the parameter and its range."""
import contextlib
import io

import numpy as np
import pytest
import yaml

from chapter_code import code_cells, value
from utils import cache
from utils.params import ParameterError
from utils.paths import CHAPTERS

CELLS = code_cells("ch04")
[PARAMETERS] = [i for i, source in enumerate(CELLS) if "reviews_dataset: str" in source]
OFFLINE = yaml.safe_load((CHAPTERS / "profiles" / "offline" / "ch04_text_classification.yaml").read_text())
RANGES = value("ch04", "RANGES")


@pytest.fixture(scope="module")
def tiny_reviews():
    """24 training, 4 validation and 6 test reviews of the offline data, half of each label."""
    import datasets

    from utils.data import load_movie_reviews
    reviews = load_movie_reviews("offline:rotten-tomatoes-snippets")

    def part(split, n):
        labels = np.array(reviews[split]["label"])
        rows = np.concatenate([np.flatnonzero(labels == label)[:n // 2] for label in (0, 1)])
        return reviews[split].select(np.sort(rows))
    return datasets.DatasetDict(train=part("train", 24), validation=part("validation", 4), test=part("test", 6))


def namespace(**overrides):
    """The parameters cell executed, the offline profile and `overrides` applied (as papermill injects them)."""
    chapter = {}
    exec(CELLS[PARAMETERS], chapter)
    chapter.update(OFFLINE, cpu_threads=None, **overrides)     # cpu_threads: leave this process's torch threads alone
    return chapter


def run_chapter(chapter, reviews, monkeypatch, tmp_path):
    """Every cell after the parameters cell, with `load_movie_reviews` giving `reviews` and the cache in tmp_path;
    returns what the chapter printed."""
    import matplotlib
    import matplotlib.pyplot as plt
    matplotlib.use("Agg")
    monkeypatch.setattr(cache, "FOLDER", tmp_path)
    monkeypatch.setenv("HOLLM_HEADLESS", "1")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        for source in CELLS[PARAMETERS + 1:]:
            exec(source, chapter)                                   # an error fails the test here
            if "from utils.data import" in source:
                chapter["load_movie_reviews"] = lambda name: reviews
    plt.close("all")
    return printed.getvalue()


@pytest.mark.chapter
def test_the_low_edges_run_to_the_end_and_say_what_is_too_small(tiny_reviews, fake_openai, monkeypatch, tmp_path):
    low = {name: low for name, (low, _) in RANGES.items()}
    fake_openai.mode, fake_openai.retry_after = "limited", 120         # rate limited; no retry at the low edge
    chapter = namespace(**low)
    printed = run_chapter(chapter, tiny_reviews, monkeypatch, tmp_path)
    assert "training reviews: 2 of 24" in printed and chapter["train_embeddings"].shape == (2, 384)
    assert "generative routes are scored on n = 2 test reviews" in printed and "too few reviews to tell" in printed
    ladder = chapter["ladder"]
    assert set(ladder) == {"task-specific model", "embeddings + logistic regression", "class centroids",
                           "zero-shot embeddings", "zero-shot, richer labels", "TF-IDF + logistic regression",
                           "Flan-T5 prompt, chat model", "local chat model"}
    assert ladder["TF-IDF + logistic regression"]["training reviews"] == 2 and ladder["local chat model"]["n"] == 2
    assert set(chapter["not_run"]) == {"Flan-T5 prompt", "ChatGPT"}
    assert "OpenAI call failed: rate limit or quota reached (429)" in printed     # 0 retries: the first 429 ends it
    assert len(fake_openai.requests) == 1
    assert set(chapter["comparison"].values()) == {"too few reviews to tell"}     # 6 test reviews: no verdict
    assert chapter["books_point"] == "too few reviews to tell"


@pytest.mark.chapter
def test_the_high_edges_run_to_the_end_with_the_book_profiles_code_paths(tiny_reviews, fake_openai, tiny,
                                                                         monkeypatch, tmp_path):
    high = {name: high for name, (_, high) in RANGES.items() if high is not None}
    chapter = namespace(**high, n_train=10 ** 6, n_generative_eval=None, task_model=str(tiny("roberta-sentiment")),
                        seq2seq_model=str(tiny("t5")))
    printed = run_chapter(chapter, tiny_reviews, monkeypatch, tmp_path)
    assert "training reviews: 24 of 24" in printed and "n_train = 1,000,000 asks for all of them or more" in printed
    assert "generative routes are scored on n = 6 test reviews" in printed
    ladder = chapter["ladder"]
    assert {"Flan-T5 prompt", "ChatGPT"} <= set(ladder) and not chapter["not_run"]
    assert ladder["ChatGPT"]["n"] == 6 and len(fake_openai.requests) == 7    # the book's example, then each review
    assert chapter["books_point"] == "too few reviews to tell"


@pytest.mark.parametrize("name, outside", [(name, edge) for name, (low, high) in RANGES.items()
                                           for edge in ((low - 1 if isinstance(low, int) else low / 2),
                                                        None if high is None else high + 1) if edge is not None])
def test_outside_the_ranges_the_chapter_stops_before_anything_loads(name, outside):
    chapter = namespace(**{name: outside})
    with pytest.raises(ParameterError, match=rf"{name}={outside!r}: .*(at least|from|at most|positive)"):
        exec(CELLS[PARAMETERS + 1], chapter)
    assert "load_movie_reviews" not in chapter and "torch" not in chapter

