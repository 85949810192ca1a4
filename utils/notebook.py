"""What a chapter's kernel needs from a headless run: record key results, show progress, and where files go."""
import json
import os
import time
from pathlib import Path

from .paths import CHAPTERS, ROOT

MIME = "application/vnd.hollm.results+json"     # the runner's report reads record()'s results under this mimetype
BOOK_MIME = "application/vnd.hollm.book+json"   # ... and versus_book()'s pairs under this one


def record(**results):
    """Show a chapter's key results (nbval compares them) and tag them so the runner's report can list them."""
    from IPython.display import display
    text = "\n".join(f"{key}: {value}" for key, value in results.items())
    display({"text/plain": text, MIME: json.loads(json.dumps(results, default=str))}, raw=True)


def book_verdict(book, ours, rel=0.05):
    """"exact" when this run's value is the book's, "close" when both are numbers within `rel` (relative) of each
    other, else "differs"."""
    if book == ours:
        return "exact"
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (book, ours))
    return "close" if numbers and abs(ours - book) <= rel * abs(book) else "differs"


def versus_book(model, rel=0.05, **pairs):
    """Show values the book prints beside this run's, each as exact / close (numbers within `rel`) / differs, with
    the model that produced this run's (a Hub id or an offline stand-in), and tag them for the runner's pages:
    versus_book(generation_model, parameters=(3_821_079_552, n_parameters)). Each pair is (the book's, this run's)."""
    from IPython.display import display
    if not pairs:
        raise ValueError("versus_book() needs at least one name=(the book's value, this run's value)")
    rows = []
    for what, pair in pairs.items():
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise ValueError(f"versus_book({what}=...) takes a pair (the book's value, this run's value), not {pair!r}")
        book, ours = json.loads(json.dumps(list(pair), default=str))
        rows.append({"what": what, "book": book, "ours": ours, "verdict": book_verdict(book, ours, rel),
                     "model": str(model)})
    text = "\n".join(f"the book vs this run ({r['model']}): {r['what']}: {r['book']} / {r['ours']}: {r['verdict']}"
                     for r in rows)
    display({"text/plain": text, BOOK_MIME: rows}, raw=True)


def headless():
    """True in a kernel started by the runner, `make record` or nbval (HOLLM_HEADLESS=1), False for a reader."""
    return os.environ.get("HOLLM_HEADLESS") == "1"


def progress(iterable, desc, total=None, unit="batches"):
    """A progress bar (tqdm.auto) for a reader in JupyterLab or Colab; in a headless run one line when the loop is
    done instead, so that recordings keep no bar frozen at 0%. The line starts with "[progress]": nbval compares
    recordings without such lines (tests/nbval_sanitize.cfg), since a result loaded from the cache has none."""
    if not headless():
        from tqdm.auto import tqdm
        yield from tqdm(iterable, desc=desc, total=total)
        return
    start, count = time.perf_counter(), 0
    for item in iterable:
        count += 1
        yield item
    print(f"[progress] {desc}: {count:,} {unit} in {time.perf_counter() - start:.1f} s")


def output_folder(output_dir, chapter):
    """The folder a chapter writes its files into (created): `output_dir`, or <root>/<chapter>/ when it is None, where
    <root> is build/ of the companion (a reader's run, `make run`) unless HOLLM_OUTPUT names another folder: the
    recordings and the nbval replays write into scratch folders of their own, never over a reader's build/. A folder
    inside chapters/ is refused: the chapters stay as they are."""
    root = Path(os.environ.get("HOLLM_OUTPUT") or ROOT / "build")
    folder = (Path(output_dir) if output_dir else root / chapter).resolve()
    if folder == CHAPTERS or CHAPTERS in folder.parents:
        raise ValueError(f"output_dir {output_dir!r} is inside chapters/: choose a folder outside it (None gives "
                         f"build/{chapter}/).")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
