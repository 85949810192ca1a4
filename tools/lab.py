"""Offline copies of the chapters for JupyterLab, prepared in a reader's folder without overwriting their edits.

    python -m tools.lab                     # prepare my-chapters/ (offline profile) and open JupyterLab there
    python -m tools.lab --prepare-only      # prepare (or refresh) the copies, open nothing
    python -m tools.lab ch01 --into DIR     # only chapter 1, into DIR
    python -m tools.lab --no-browser        # options the command does not know go to JupyterLab

Each copy is the chapter with the offline profile's parameters filled in as papermill's --prepare-only does it (a
cell tagged `injected-parameters` after the parameters cell). The folder keeps a record (.prepared.json) of the
sha256 of every copy as it was written. A copy that still matches it is replaced when its chapter changes; a copy
that differs from it is the reader's and is never touched: when its chapter has changed, the new version is written
beside it as <chapter>.new-<hash>.ipynb and the reader is told that their copy is stale."""
import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

import nbformat

from utils.paths import ROOT, shown

from . import run

FOLDER = ROOT / "my-chapters"
RECORD = ".prepared.json"
HUB_OFF = {name: value for name, value in run.OFFLINE_ENV.items() if name.endswith("_OFFLINE")}


def prepared(notebook):
    """The chapter as text with the offline profile's parameters injected, the same bytes every time."""
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook
    nb = parameterize_notebook(load_notebook_node(str(notebook)), run.chapter_parameters(notebook, "offline"),
                               comment=f"The offline profile (chapters/profiles/offline/{notebook.stem}.yaml), "
                                       "filled in by `make lab-offline`")
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)                   # papermill's empty per-cell bookkeeping
        if not cell.metadata.get("tags", True):
            del cell.metadata["tags"]
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell.id = "injected-parameters"                    # papermill draws a random id: keep the copy stable
    return nbformat.writes(nb) + "\n"


def sha256(text):
    return hashlib.sha256(text.encode()).hexdigest()


def place(path, text, record):
    """Write `text` to `path` unless the reader has edited the file there; return what happened, or None when an
    edited copy is stale (its chapter has changed since it was prepared)."""
    digest = sha256(text)
    if not path.exists():
        outcome = "written"
    else:
        found = sha256(path.read_text())
        if found == digest:
            record[path.name] = digest
            return "up to date"
        if found != record.get(path.name):                     # edited since prepared, or not prepared here
            return "yours, kept (its chapter has not changed)" if record.get(path.name) == digest else None
        outcome = "updated (you had not changed it)"
    path.write_text(text)
    record[path.name] = digest
    return outcome


def prepare(folder=FOLDER, selection=()):
    """Prepare a copy of each chapter in `folder`; return {copy's file name: what happened}."""
    folder = Path(folder).resolve()
    if folder == run.CHAPTERS or run.CHAPTERS in folder.parents:
        raise SystemExit(f"{folder} is inside chapters/: choose a folder outside it (the default is my-chapters/).")
    folder.mkdir(parents=True, exist_ok=True)
    record_file = folder / RECORD
    record = json.loads(record_file.read_text()) if record_file.exists() else {}
    outcomes = {}
    for notebook in run.chapters(selection):
        text = prepared(notebook)
        outcome = place(folder / notebook.name, text, record)
        if outcome is None:
            beside = folder / f"{notebook.stem}.new-{sha256(text)[:8]}.ipynb"
            outcome = (f"yours, kept, but STALE: {notebook.stem} has changed since; the new version is "
                       f"{beside.name} beside it ({place(beside, text, record) or 'yours, kept'})")
        outcomes[notebook.name] = outcome
    record_file.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    return outcomes


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.lab", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("chapter", nargs="*", help="chapter stems or prefixes (default: all)")
    parser.add_argument("--into", default=str(FOLDER), help="the reader's folder (default: my-chapters/)")
    parser.add_argument("--prepare-only", action="store_true", help="prepare the copies, do not start JupyterLab")
    args, lab_options = parser.parse_known_args(argv)
    if args.prepare_only and lab_options:
        parser.error(f"unrecognized arguments: {' '.join(lab_options)}")
    folder = Path(args.into).resolve()
    outcomes = prepare(folder, args.chapter)
    width = max(map(len, outcomes))
    print(f"Chapters with the offline profile's parameters filled in, in {shown(folder)}/:")
    print("\n".join(f"  {name:<{width}}  {outcome}" for name, outcome in outcomes.items()))
    if args.prepare_only:
        return 0
    print(f"Opening JupyterLab in {shown(folder)}/ (the Hugging Face Hub switched off; Ctrl-C stops it).", flush=True)
    os.environ.update(HUB_OFF)              # the kernels inherit it: a Hub id fails at once instead of retrying
    os.execv(sys.executable, [sys.executable, "-m", "jupyterlab", *lab_options, str(folder)])


if __name__ == "__main__":
    sys.exit(main())
