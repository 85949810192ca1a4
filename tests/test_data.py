from collections import Counter

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
    assert all((raw.loc[t, "category"] == "fresh") == bool(y)
               for t, y in zip(sample["text"], sample["label"], strict=True))


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


# --- playlists (chapter 2) ---------------------------------------------------------------------------------------
from utils.data import GENRES, SYNTHETIC_PLAYLISTS, load_playlists  # noqa: E402


def _yes_files(folder):
    """A miniature copy of the Yes.com files in their published layout."""
    folder.mkdir()
    (folder / "train.txt").write_text("#playlist data\n#another header line\n0 1 2 3 \n7 \n4 5 1 \n\n3 6 \n")
    (folder / "song_hash.txt").write_text("0\tFade To Black\tMetallica\n1\tCalifornia Love\t2Pac\n"
                                          "2\tBillie Jean\tMichael Jackson\n\n")
    return folder.as_uri() + "/"


@pytest.fixture(autouse=True)
def downloads(tmp_path, monkeypatch):
    """Downloads land in a fresh folder, never in the project's cache."""
    from utils import data
    monkeypatch.setattr(data, "DOWNLOADS", tmp_path / "downloads")
    return tmp_path / "downloads"


def test_yes_complete_is_parsed_like_the_book(tmp_path):
    playlists, songs = load_playlists("yes_complete", base_url=_yes_files(tmp_path / "yes"))
    assert playlists == [["0", "1", "2", "3"], ["4", "5", "1"], ["3", "6"]]     # headers and 1-song playlists dropped
    assert list(songs.columns) == ["title", "artist"] and songs.index.name == "id"
    assert songs.loc["0"].tolist() == ["Fade To Black", "Metallica"] and len(songs) == 3


def test_yes_complete_is_downloaded_once(tmp_path, downloads):
    first = load_playlists("yes_complete", base_url=_yes_files(tmp_path / "yes"))
    assert sorted(p.name for p in (downloads / "yes_complete").iterdir()) == ["song_hash.txt", "train.txt"]
    again = load_playlists("yes_complete", base_url=(tmp_path / "nowhere").as_uri() + "/")   # no download now
    assert again[0] == first[0] and again[1].equals(first[1])


def test_unreachable_playlists_name_the_offline_alternative(tmp_path, downloads):
    (downloads / "yes_complete").mkdir(parents=True)
    (downloads / "yes_complete" / "train.txt.partial").write_text("#cut short\n")      # a cut download is not used
    with pytest.raises(RuntimeError, match="offline:synthetic-playlists"):
        load_playlists("yes_complete", base_url=(tmp_path / "nowhere").as_uri() + "/")
    with pytest.raises(ValueError, match="yes_complete"):
        load_playlists("spotify")


def test_synthetic_playlists_have_the_documented_structure():
    playlists, songs = load_playlists(SYNTHETIC_PLAYLISTS, seed=42)
    assert len(playlists) == 3000 and len(songs) == len(GENRES) * 12 * 8
    assert songs.index.is_unique and songs.title.is_unique and set(songs.genre) == set(GENRES)
    assert all(2 <= len(p) <= 30 and len(set(p)) == len(p) for p in playlists)
    genre = songs.genre.to_dict()
    main_share = [max(Counter(genre[s] for s in p).values()) / len(p) for p in playlists]
    assert 0.45 < sum(main_share) / len(playlists) < 0.6           # mixed genres and cross-genre hits (mixed=0.6)
    assert sum(share == 1 for share in main_share) < 0.05 * len(playlists)
    played = Counter(s for p in playlists for s in p)
    assert len({genre[s] for s, _ in played.most_common(20)}) >= 5    # the hits come from many genres
    rock_ids = sorted(int(i) for i in songs.index[songs.genre == "rock"])
    assert rock_ids != list(range(rock_ids[0], rock_ids[0] + len(rock_ids)))   # ids say nothing about the genre


def test_synthetic_playlists_are_deterministic_per_seed():
    first, _ = load_playlists(SYNTHETIC_PLAYLISTS, seed=42)
    again, _ = load_playlists(SYNTHETIC_PLAYLISTS, seed=42)
    other, _ = load_playlists(SYNTHETIC_PLAYLISTS, seed=1)
    assert first == again and first != other
