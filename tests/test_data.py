import pytest

from utils import assets
from utils.data import MOVIE_SPLITS, load_movie_reviews


@pytest.fixture(scope="module")
def reviews():
    return load_movie_reviews("offline:rotten-tomatoes-snippets")


def test_movie_reviews_mirror_rotten_tomatoes_shape(reviews):
    assert {split: reviews[split].num_rows for split in reviews} == MOVIE_SPLITS == \
        {"train": 8530, "validation": 1066, "test": 1066}
    for split in reviews.values():
        assert split.column_names == ["text", "label"]
        assert split.features["label"].names == ["neg", "pos"]
        assert sum(split["label"]) * 2 == split.num_rows            # balanced, as rotten_tomatoes is


def test_splits_do_not_overlap_and_texts_are_unique(reviews):
    texts = [set(reviews[s]["text"]) for s in reviews]
    assert sum(map(len, texts)) == sum(MOVIE_SPLITS.values())
    assert not (texts[0] & texts[1] or texts[0] & texts[2] or texts[1] & texts[2])


def test_label_one_means_a_fresh_review(reviews):
    import pandas as pd
    raw = pd.read_csv(assets.path("offline:rotten-tomatoes-snippets")).drop_duplicates("text").set_index("text")
    sample = reviews["test"].select(range(50))
    assert all((raw.loc[t, "category"] == "fresh") == bool(y) for t, y in zip(sample["text"], sample["label"]))


def test_the_sample_is_deterministic(reviews):
    again = load_movie_reviews("offline:rotten-tomatoes-snippets")
    assert again["test"]["text"] == reviews["test"]["text"]
    other = load_movie_reviews("offline:rotten-tomatoes-snippets", seed=1)
    assert other["test"]["text"] != reviews["test"]["text"]


def test_topic_corpora_load_with_pandas():
    import csv

    import pandas as pd
    for name, file, rows, groups in [("offline:20newsgroups", "20newsgroups-train.tab", 11293, 20),
                                     ("offline:reuters-r8", "reuters-r8-train.tab", 5485, 8)]:
        frame = pd.read_csv(assets.path(name, file), sep="\t", skiprows=[1, 2], quoting=csv.QUOTE_NONE,
                            dtype=str, keep_default_na=False)
        assert len(frame) == rows
        assert frame.iloc[:, 0].nunique() == groups or frame.iloc[:, -1].nunique() == groups
