"""Rehearse the book profile with no network, every book id stood in for locally.

Every chapter with its default parameters, each book id resolved from a throw-away Hugging Face cache (and gensim-
data folder, datasets cache, download folder) filled with a stand-in of the same kind. A chapter passes if it runs
to the end; outputs are not compared with the recordings (the stand-ins are not the book's models), but the report
lists each chapter's results beside its recording's. What it proves, and nothing else does: every id the defaults
name resolves through the libraries' own caches and loads through the chapter's own loading code, and every cell of
the book profile, its book-only paths included (Flan-T5, the cardiffnlp pipeline, Hub ids in the loaders), runs to
the end. Kernels run native numerics (tools/numerics.py): nothing is compared, so nothing needs pinning.

    python -m tools.rehearse [CHAPTER ...] [--out DIR]     (make rehearse)

Stand-ins come from the offline catalogue (`replaces` and `also_replaces` in utils/assets.py). Book ids of a kind
the catalogue has no stand-in for get a tiny model with a tiny tokenizer built from a config (`TINY`,
tools/tiny_models.py): they load and run like the real ones, and what they print is meaningless. An id that is
neither stays missing, so a wrong default id fails its chapter with an error that names it. Only `device` (cpu) and
the parameters that scale the work (the offline profile's numbers, capped further in `CAPS` where a real checkpoint
is slow) differ from the defaults. Nothing outside the
temporary folder is touched: the Hub, gensim-data, the datasets cache and the downloads all point into it, and the
kernels cannot open a socket to anything but this machine."""
import argparse
import ast
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import yaml

from utils import assets, data, models
from utils.paths import ROOT

from . import numerics, report, run
from .tiny_models import tiny_model

COMMIT = "0" * 40                                          # refs/main of every stand-in repository
TINY = {"google/flan-t5-small": "t5", "bert-base-cased": "bert", "facebook/galactica-1.3b": "opt",
        "cardiffnlp/twitter-roberta-base-sentiment-latest": "roberta-sentiment"}
# sizes capped below the offline profile's where the book's own weights run (the report lists them): chapter 4 encodes
# its reviews with the real all-mpnet-base-v2, about 24 texts/s on two quiet cores, ten times slower than the offline
# profile's MiniLM; 200 training reviews and the 1,066 test reviews take under a minute instead of two
CAPS = {"ch04_text_classification": {"n_train": 200}}
KINDS = ("model", "tokenizer", "vectors", "dataset", "playlists", "songs")
# AG News' four classes (chapter 2's [CLS] fine-tuning), each stood in for by one newsgroup of 20 Newsgroups
AG_NEWS = data.AG_NEWS_STAND_INS

# What the rehearsal's chapters may write to stderr besides run.EXPECTED_STDERR: the notes that huggingface_hub and
# datasets write when they take a repository or a data set from their caches because the Hub is off (HF_HUB_OFFLINE=1,
# the rehearsal's setting). A reader online gets them from the Hub and never sees these notes; the offline profile
# loads packaged assets by path instead.
OFFLINE_NOTES = (
    (r"^Could not reach the Hub \(Cannot reach \S+: offline mode is enabled\. .*\)\. Using cached commit hash for "
     r"'[^']+'\.$", "huggingface_hub's note on a repository resolved from its cache with the Hub off"),
    (r"^Using the latest cached version of the dataset since \S+ couldn't be found on the Hugging Face Hub "
     r"\(offline mode is enabled\)", "datasets' note on a Hub data set read from its cache with the Hub off"),
    (r"^Found the latest cached dataset configuration '[^']*' at .* \(last modified on [^)]*\)\.$",
     "datasets' note on which cached copy it read, with the Hub off"),
)

# a sitecustomize for the rehearsal's kernels: any connection beyond this machine fails at once
NO_NETWORK = '''import socket
_connect = socket.socket.connect
def _local_only(self, address):
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, str) and not (host.startswith("127.") or host in ("localhost", "::1") or host.startswith("/")):
        raise OSError(f"the rehearsal blocks the network (connect to {host!r})")
    return _connect(self, address)
socket.socket.connect = _local_only
'''


def book_ids(notebook):
    """kind -> book ids that the chapter's default parameters name: models, tokenizers, word vectors, datasets and
    playlists, by the naming convention of the parameters (`*_model`, `*_tokenizer(s)`, ...; `openai_model` names
    an API model, not a Hub id)."""
    kinds = {kind: set() for kind in KINDS}
    for name, p in run.declared(notebook).items():
        value = ast.literal_eval(p["default"])
        values = [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str)]
        kind = ("model" if name.endswith("_model") and name != "openai_model"
                else "tokenizer" if name.endswith(("_tokenizer", "_tokenizers"))
                else "vectors" if name == "word_vectors" else "dataset" if name.endswith("_dataset")
                else "playlists" if name == "playlist_data" else "songs" if name == "seed_songs" else None)
        if kind:
            kinds[kind].update(values)
    return kinds


def stand_ins():
    """book id -> offline asset name, from the catalogue; the first asset in catalogue order wins (models are
    listed before tokenizers, so an id used as both gets the model with its own tokenizer)."""
    found = {}
    for key, asset in assets.CATALOGUE.items():
        for book_id in filter(None, (asset.replaces,) + asset.also_replaces):
            found.setdefault(book_id, assets.PREFIX + key)
    return found


def _link_folder(source, target):
    """Link (or, where links are not allowed, copy) every file and sub-folder of `source` into `target`."""
    target.mkdir(parents=True, exist_ok=True)
    for entry in Path(source).iterdir():
        try:
            (target / entry.name).symlink_to(entry.resolve(), target_is_directory=entry.is_dir())
        except OSError:                                          # no symlinks (Windows without developer mode)
            (shutil.copytree if entry.is_dir() else shutil.copy2)(entry, target / entry.name)


def hub_repo(hub_cache, repo_id, source):
    """Put the files of folder `source` into the Hub cache as repository `repo_id` (refs/main + one snapshot). A
    tokenizer-only stand-in has no config.json: the cache records it as absent, as the Hub cache does for a file a
    repository lacks, so that transformers goes on without it."""
    from huggingface_hub.file_download import repo_folder_name
    repo = Path(hub_cache) / repo_folder_name(repo_id=repo_id, repo_type="model")
    _link_folder(source, repo / "snapshots" / COMMIT)
    if not (Path(source) / "config.json").exists():
        (repo / ".no_exist" / COMMIT).mkdir(parents=True)
        (repo / ".no_exist" / COMMIT / "config.json").touch()
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(COMMIT)


def gensim_vectors(data_dir, name, source):
    """gensim-data's layout for `name`: information.json (its offline fall-back catalogue) and a folder whose
    __init__.py loads the stand-in vectors."""
    folder = Path(data_dir) / name
    folder.mkdir(parents=True)
    models.load_word_vectors(source).save(str(folder / "vectors.kv"))
    (folder / "__init__.py").write_text("import os\nfrom gensim.models import KeyedVectors\n\n\ndef load_data():\n"
                                        "    return KeyedVectors.load(os.path.join(os.path.dirname(__file__), "
                                        "'vectors.kv'))\n")
    info = Path(data_dir) / "information.json"
    known = json.loads(info.read_text()) if info.exists() else {"corpora": {}, "models": {}}
    known["models"][name] = {"file_name": "vectors.kv"}
    info.write_text(json.dumps(known))


def cached_dataset(datasets_cache, name, source):
    """datasets' own cache of a prepared dataset `name` (what `load_dataset(name)` reads with the Hub off), built
    from the stand-in: movie reviews (a DatasetDict like rotten_tomatoes') or a labelled corpus (one train split
    with the columns Abstracts and Titles, like maartengr/arxiv_nlp), or fancyzhx/ag_news' four classes from four
    newsgroups (AG_NEWS)."""
    import datasets
    from datasets.packaged_modules.parquet.parquet import Parquet
    if name == "fancyzhx/ag_news":                             # one train split of `text` and a class `label`
        documents, _, groups = data.load_abstracts(source)
        class_of = {group: i for i, group in enumerate(AG_NEWS.values())}
        rows = [(text, class_of[group]) for text, group in zip(documents, groups, strict=True) if group in class_of]
        features = datasets.Features({"text": datasets.Value("string"),
                                      "label": datasets.ClassLabel(names=list(AG_NEWS))})
        splits = datasets.DatasetDict(train=datasets.Dataset.from_dict(
            {"text": [t for t, _ in rows], "label": [y for _, y in rows]}, features=features))
    elif assets.get(source)[1].format == "orange-tab":
        documents, titles, _ = data.load_abstracts(source)
        splits = datasets.DatasetDict(train=datasets.Dataset.from_dict({"Abstracts": documents, "Titles": titles}))
    else:
        splits = data.load_movie_reviews(source)
    with tempfile.TemporaryDirectory() as scratch:
        files = {}
        for split, table in splits.items():
            files[split] = str(Path(scratch) / f"{split}.parquet")
            table.to_parquet(files[split])
        builder = Parquet(cache_dir=str(datasets_cache), dataset_name=name.replace("/", "___"),
                          data_files=files, features=splits["train"].features, hash=COMMIT[:16])
        builder.download_and_prepare()
    for config in (Path(datasets_cache) / name.replace("/", "___")).glob(f"{builder.config.name}-*"):
        config.rename(config.with_name(builder.config.name))   # datasets reads a cache of no extra options by name
    # datasets names the files of "org/x" x-<split>.arrow
    for arrow in (Path(datasets_cache) / name.replace("/", "___")).rglob(f"{builder.dataset_name}-*.arrow"):
        arrow.rename(arrow.with_name(arrow.name.replace(builder.dataset_name, name.split("/")[-1], 1)))


def yes_playlists(folder, song_ids, seed=0):
    """The Yes.com files in their published layout in `folder`, filled with synthetic playlists; the songs
    `song_ids` that the chapters' defaults ask for are given to songs of different genres."""
    playlists, songs = data.synthetic_playlists(seed=seed)
    firsts = songs.reset_index().groupby("genre", sort=False)["id"].first()
    rename = dict(zip(firsts, sorted(song_ids), strict=False))
    playlists = [[rename.get(song, song) for song in playlist] for playlist in playlists]
    songs = songs.rename(index=rename)
    folder.mkdir(parents=True)
    (folder / "train.txt").write_text("#rehearsal: synthetic playlists\n#\n" +
                                      "".join(" ".join(p) + " \n" for p in playlists))
    (folder / "song_hash.txt").write_text("".join(f"{i}\t{r.title}\t{r.artist}\n" for i, r in songs.iterrows()))


def hub_stand_in(root, env, book_id, kind, standing):
    """Put a stand-in for the model or tokenizer `book_id` into the throw-away Hub cache: the catalogue's, else a
    tiny one built from a config; return its row for the report (or say that it stays missing)."""
    if book_id in standing:
        hub_repo(env["HF_HUB_CACHE"], book_id, models.model_path(standing[book_id]))
        return book_id, kind, standing[book_id]
    if book_id in TINY:
        folder = root / "tiny" / book_id.replace("/", "--")
        tiny_model(TINY[book_id], folder)
        hub_repo(env["HF_HUB_CACHE"], book_id, folder)
        return book_id, kind, f"a tiny {TINY[book_id]} model built from a config (meaningless outputs)"
    return book_id, kind, "none: stays missing"


def build(root, notebooks):
    """Fill `root` with a stand-in for every book id the notebooks' defaults name; return (environment, rows of
    book id / kind / stand-in) for the report."""
    env = {"HF_HOME": str(root / "hf"), "HF_HUB_CACHE": str(root / "hf" / "hub"),
           "HF_DATASETS_CACHE": str(root / "hf" / "datasets"), "GENSIM_DATA_DIR": str(root / "gensim-data"),
           "HOLLM_DOWNLOADS": str(root / "downloads"), "HOLLM_COMPUTED": str(root / "computed"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(root / "site"), os.environ.get("PYTHONPATH")]))}
    (root / "site").mkdir(parents=True)
    (root / "site" / "sitecustomize.py").write_text(NO_NETWORK)
    wanted = {kind: set() for kind in KINDS}
    for notebook in notebooks:
        for kind, ids in book_ids(notebook).items():
            wanted[kind] |= ids
    standing = stand_ins()
    rows = [hub_stand_in(root, env, book_id, "model" if book_id in wanted["model"] else "tokenizer", standing)
            for book_id in sorted(wanted["model"] | wanted["tokenizer"])]
    for name in sorted(wanted["vectors"]):
        if name in standing:
            gensim_vectors(env["GENSIM_DATA_DIR"], name, standing[name])
        rows.append((name, "word vectors", standing.get(name, "none: stays missing")))
    for name in sorted(wanted["dataset"]):
        if name in standing:
            cached_dataset(env["HF_DATASETS_CACHE"], name, standing[name])
        rows.append((name, "dataset", standing.get(name, "none: stays missing")))
    for name in sorted(wanted["playlists"]):
        yes_playlists(Path(env["HOLLM_DOWNLOADS"]) / name, wanted["songs"])   # where load_playlists(name) looks
        rows.append((name, "playlists", "synthetic playlists in the Yes.com file layout"))
    return env, rows


def scaled_parameters(notebook):
    """device cpu, plus the offline profile's values of the parameters that only scale the work (numbers), with
    the rehearsal's own caps (`CAPS`) on top."""
    offline = yaml.safe_load((run.PROFILES / "offline" / f"{notebook.stem}.yaml").read_text())
    declared = run.declared(notebook)
    numeric = {name for name, p in declared.items() if "int" in p["type"] or "float" in p["type"]}
    return {"device": "cpu", **{k: v for k, v in offline.items() if k in numeric}, **CAPS.get(notebook.stem, {})}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.rehearse", description=__doc__.split("\n\n")[0])
    parser.add_argument("chapter", nargs="*", help="chapter stems or prefixes (default: all)")
    parser.add_argument("--out", default=str(ROOT / "build" / "rehearsal"), help="executed notebooks and report")
    args = parser.parse_args(argv)
    notebooks = run.chapters(args.chapter)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="hollm-rehearsal-") as root:
        print("building the stand-in caches ...", flush=True)
        env, stood = build(Path(root), notebooks)
        env = {**os.environ, **run.OFFLINE_ENV, **numerics.environment("native"), **env}
        plan = [(notebook, run.with_output_dir(notebook, scaled_parameters(notebook), out)) for notebook in notebooks]
        rows = run.execute_all(plan, out, env, "book profile, rehearsed", ranges_profile="rehearsal",
                               expected=run.EXPECTED_STDERR + OFFLINE_NOTES)
    text = rehearsal_report(rows, stood)
    (out / "report.md").write_text(text)
    (out / "report.json").write_text(json.dumps(rows, indent=2) + "\n")
    print("\n" + text + f"\nReport: {out / 'report.md'}")
    return 1 if any(r["status"] != "ok" for r in rows) else 0


def rehearsal_report(rows, stood):
    """The stand-ins, the runner's table, and each chapter's results beside its recording's."""
    import nbformat
    lines = ["# Book-profile rehearsal (default parameters, stand-ins, no network)", "",
             "| book id | kind | stood in by |", "|---|---|---|"]
    lines += [f"| {book_id} | {kind} | {stand_in} |" for book_id, kind, stand_in in stood]
    capped = [f"{r['chapter']}: " + ", ".join(f"{k} = {v}" for k, v in CAPS[r["chapter"]].items())
              for r in rows if r["chapter"] in CAPS]
    if capped:
        lines += ["", "Capped below the offline profile's sizes, where the book's own weights are slow: " +
                  "; ".join(capped) + " (tools/rehearse.py, CAPS)."]
    lines += ["", report.markdown(rows, "book, rehearsed", results=False, numerics=numerics.summary("native"))]
    for r in rows:
        recording = run.RECORDINGS / f"{r['chapter']}.ipynb"
        offline = report.results_of(nbformat.read(recording, as_version=4)) if recording.exists() else {}
        lines += ["", f"## {r['chapter']}: results", "",
                  "| result | rehearsal (book ids, stand-ins) | offline recording |", "|---|---|---|"]
        for key in sorted(set(r.get("results", {})) | set(offline)):
            lines.append(f"| {key} | {r.get('results', {}).get(key, '')} | {offline.get(key, '')} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
