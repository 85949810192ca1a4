"""Chapter 4's embedding rows with the book's own model at the book's sizes, written into docs/results/.

The offline chapter encodes with all-MiniLM-L6-v2 and 2,000 training reviews to stay within its few minutes. This
command scores the chapter's three embedding methods (embeddings + logistic regression, class centroids, zero-shot
with the book's label texts) with each model of --models on ALL 8,530 training reviews and the 1,066 test reviews of
the offline data (Rotten Tomatoes critic snippets), each F1 with a 95% bootstrap interval, and writes
docs/results/ch04-book-model.md and .json (rows, command, date, machine, the time encoding took), which chapter 4
shows. Before encoding it measures the speed on a few reviews and prints an estimate of the time; embeddings are
cached in chunks under .cache/results/, so a second run, or one stopped by --budget-s, carries on where it was.

    python -m tools.book_rows [--models NAME ...] [--budget-s SECONDS] [--dtype bfloat16]       (make book-rows)"""
import argparse
import datetime
import json
import os
import platform
import sys
import time

import numpy as np

from utils import cache, models
from utils.data import load_movie_reviews
from utils.evaluation import bootstrap_f1
from utils.paths import COMPUTED, ROOT

DATA = "offline:rotten-tomatoes-snippets"
MODELS = ("offline:all-mpnet-base-v2", "offline:all-minilm-l6-v2")
BOOK_MODEL = "offline:all-mpnet-base-v2"
# the book's weighted F1 with all-mpnet-base-v2 on rotten_tomatoes (chapter 4); the book prints none for the class
# centroids (the 0.84 of its companion notebook is not in the book)
BOOK_F1 = {"embeddings + logistic regression": 0.85, "class centroids": None, "zero-shot embeddings": 0.78}
LABEL_TEXTS = ["A negative review", "A positive review"]          # the book's zero-shot label descriptions
CHUNK, BATCH, N_BOOTSTRAP, SEED = 500, 32, 1000, 42
OUT = ROOT / "docs" / "results" / "ch04-book-model"
TIMES = COMPUTED / "results" / "book-rows-seconds.json"          # seconds each chunk took to encode, when it did


class OutOfBudget(RuntimeError):
    """--budget-s ran out before every chunk was encoded; what was encoded is cached."""


def embed(name, embedder, texts, started, budget_s=None):
    """Embeddings of `texts`, encoded in cached chunks of CHUNK with a progress line per chunk and, before the first
    chunk to encode, an estimate of the time; (embeddings, seconds spent encoding them, in this run or earlier)."""
    chunks = [texts[i:i + CHUNK] for i in range(0, len(texts), CHUNK)]
    encode = lambda chunk: embedder.encode(chunk, batch_size=BATCH)      # noqa: E731 (as chapter 4's cell)
    todo = [i for i, chunk in enumerate(chunks) if cache.lookup(embedder, chunk, encode) is None]
    times = json.loads(TIMES.read_text()) if TIMES.exists() else {}
    if todo:
        sample = texts[:64]
        start = time.perf_counter()
        embedder.encode(sample, batch_size=BATCH)
        rate = len(sample) / (time.perf_counter() - start)
        left = sum(len(chunks[i]) for i in todo)
        print(f"{name}: {left:,} of {len(texts):,} texts to encode; at {rate:.0f} texts/s (measured on "
              f"{len(sample)} now) about {left / rate / 60:.1f} min", flush=True)
    else:
        print(f"{name}: all {len(texts):,} texts cached, nothing to encode", flush=True)
    parts, done = [], 0
    for i, chunk in enumerate(chunks):
        if i in todo and budget_s is not None and time.perf_counter() - started > budget_s:
            raise OutOfBudget(f"--budget-s {budget_s:.0f} spent after {done:,} newly encoded texts of {name}; "
                              f"run again to carry on (what is encoded is cached)")
        start = time.perf_counter()
        parts.append(cache.cached(embedder, chunk, encode, verbose=False))
        if i in todo:
            times[f"{name} {cache.texts_key(chunk)[:16]}"] = seconds = time.perf_counter() - start
            TIMES.parent.mkdir(parents=True, exist_ok=True)
            TIMES.write_text(json.dumps(times, indent=1))
            done += len(chunk)
            print(f"  {name}: chunk {i + 1}/{len(chunks)} encoded in {seconds:.0f} s "
                  f"({len(chunk) / seconds:.1f} texts/s)", flush=True)
    seconds = sum(times.get(f"{name} {cache.texts_key(c)[:16]}", float("nan")) for c in chunks)
    return np.concatenate(parts), seconds


def score(y_true, y_pred):
    """Weighted F1 (as the chapter's `evaluate_performance`) and its 95% bootstrap interval."""
    from sklearn.metrics import f1_score
    draws = bootstrap_f1(y_true, [y_pred], N_BOOTSTRAP, SEED)[:, 0]
    low, high = np.percentile(draws, [2.5, 97.5])
    return {"f1": round(float(f1_score(y_true, y_pred, average="weighted")), 3), "low": round(float(low), 3),
            "high": round(float(high), 3)}


def rows_for(name, train, test, started, budget_s=None, dtype="float32"):
    """The three embedding methods of chapter 4 with model `name` (weights in `dtype`) on all of `train` and
    `test`."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics.pairwise import cosine_similarity
    weights = {"dtype": getattr(torch, dtype)}
    embedder = SentenceTransformer(models.model_path(name), device="cpu", model_kwargs=weights)
    texts = list(train["text"]) + list(test["text"])
    vectors, seconds = embed(name if dtype == "float32" else f"{name} ({dtype})", embedder, texts, started, budget_s)
    train_x, test_x = vectors[:len(train)], vectors[len(train):]
    y_train, y_true = np.array(train["label"]), np.array(test["label"])
    logistic = LogisticRegression(random_state=42).fit(train_x, y_train)
    centroids = np.stack([train_x[y_train == label].mean(axis=0) for label in (0, 1)])
    predicted = {"embeddings + logistic regression": logistic.predict(test_x),
                 "class centroids": cosine_similarity(test_x, centroids).argmax(axis=1),
                 "zero-shot embeddings": cosine_similarity(test_x, embedder.encode(LABEL_TEXTS)).argmax(axis=1)}
    rows = [{"method": method, "model": name, "training reviews": 0 if method.startswith("zero") else len(train),
             "test reviews": len(test), **score(y_true, y_pred), "book": BOOK_F1[method]}
            for method, y_pred in predicted.items()]
    speed = {"dtype": dtype, "dimension": int(vectors.shape[1]), "texts": len(texts),
             "encode_seconds": round(seconds, 1),
             "texts_per_second": round(len(texts) / seconds, 1) if seconds == seconds else None}
    return rows, speed


def markdown(result):
    """The result as a page: one table of F1s with intervals beside the book's, then how it was made."""
    names = list(result["models"])
    lines = ["# Chapter 4's embedding rows with the book's own model", "",
             f"Made by `{result['command']}` (tools/book_rows.py) on {result['date']}. Data: "
             f"{result['data']}, all {result['sizes']['train']:,} training and {result['sizes']['test']:,} test "
             "reviews (the book's sizes; Rotten Tomatoes critic snippets, not the book's rotten_tomatoes set). "
             "Weighted F1 with its 95% bootstrap interval "
             f"({N_BOOTSTRAP} resamples of the test reviews). Chapter 4 shows this table beside its own run.", "",
             "| method | the book (all-mpnet-base-v2, rotten_tomatoes) | " +
             " | ".join(f"{n.removeprefix('offline:')} here" for n in names) + " |",
             "|---|---|" + "---|" * len(names)]
    for method, book in BOOK_F1.items():
        cells = [f"{r['f1']:.3f} ({r['low']:.3f}–{r['high']:.3f})" for n in names for r in result["rows"]
                 if r["model"] == n and r["method"] == method]
        lines.append(f"| {method} | {'none printed' if book is None else f'{book:.2f}'} | " + " | ".join(cells) + " |")
    lines += ["", "| model | dimension | texts encoded | seconds | texts per second |", "|---|---|---|---|---|"]
    lines += [f"| {n.removeprefix('offline:')} ({s.get('dtype', 'float32')}) | {s['dimension']} | {s['texts']:,} | "
              f"{s['encode_seconds']} | "
              f"{s['texts_per_second']} |" for n, s in result["models"].items()]
    m = result["machine"]
    busy = max(m["load_before"], m["load_after"]) > m["cpus"] - 0.5
    lines += ["", f"Machine: {m['system']}, {m['cpus']} CPUs, torch {m['torch']} with {m['torch_threads']} threads; "
              f"load average {m['load_before']} before and {m['load_after']} after: "
              + ("other jobs shared the machine, so the speeds are lower bounds. " if busy else "a quiet machine. ")
              + f"The command took {result['seconds']:.0f} s in all; encoding times add up its chunks, also those "
              "that an earlier run, stopped by --budget-s, encoded and cached."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.book_rows", description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), help="sentence embedders (Hub ids or offline:)")
    parser.add_argument("--budget-s", type=float, default=None,
                        help="stop encoding after about this many seconds (cached; a second run carries on)")
    parser.add_argument("--out", default=str(OUT), help="where the .md and .json go (without the suffix)")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"],
                        help="the weights' dtype (bfloat16: about twice as fast on a CPU with AVX-512 BF16)")
    args = parser.parse_args(argv)
    import torch
    started, load_before = time.perf_counter(), os.getloadavg()[0]
    reviews = load_movie_reviews(DATA)
    train, test = reviews["train"], reviews["test"]
    rows, speeds = [], {}
    try:
        for name in args.models:
            found, speeds[name] = rows_for(name, train, test, started, args.budget_s, args.dtype)
            rows += found
    except OutOfBudget as err:
        print(err)
        return 3
    now = datetime.datetime.now(datetime.timezone.utc)
    command = "make book-rows" + (f" (python -m tools.book_rows {' '.join(argv)})" if argv else "")
    result = {"command": command, "date": now.strftime("%Y-%m-%d %H:%M UTC"), "data": DATA,
              "sizes": {"train": len(train), "test": len(test)}, "rows": rows, "models": speeds,
              "machine": {"system": f"{platform.system()} {platform.machine()}", "cpus": os.cpu_count(),
                          "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
                          "load_before": round(load_before, 1), "load_after": round(os.getloadavg()[0], 1)},
              "seconds": round(time.perf_counter() - started, 1)}
    out = os.path.abspath(args.out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out + ".json", "w") as f:
        f.write(json.dumps(result, indent=1) + "\n")
    text = markdown(result)
    with open(out + ".md", "w") as f:
        f.write(text)
    print("\n" + text + f"\nWritten: {out}.md and .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
