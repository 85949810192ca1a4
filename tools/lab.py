"""Offline copies of the chapters for JupyterLab, prepared in a reader's folder without overwriting their edits.

    python -m tools.lab                     # prepare my-chapters/ (offline profile) and open JupyterLab there
    python -m tools.lab --prepare-only      # prepare (or refresh) the copies, open nothing
    python -m tools.lab ch01 --into DIR     # only chapter 1, into DIR
    python -m tools.lab --no-browser        # options the command does not know go to JupyterLab

Each copy is the chapter with the offline profile's values written into its parameters cell, the one place a reader
edits them (a comment at the top of the cell names what was filled in). The folder keeps a record (.prepared.json) of
each copy's code and text as it was written (outputs and execution counts left out, so running and saving a copy
does not change it) and, under .prepared/, the version each copy was made from. A copy whose code still matches the
record is replaced when its chapter changes; a copy the reader changed is never touched: when its chapter has
changed, the newest version is written beside it as <chapter>.new-<hash>.ipynb (an older .new-* copy the reader has
not changed is removed, one they changed is kept), and the listing says which copy is theirs, which is new and which
cells changed upstream."""
import argparse
import ast
import hashlib
import json
import os
import sys
import textwrap
from pathlib import Path

import nbformat

from utils.paths import ROOT, shown

from . import run

FOLDER = ROOT / "my-chapters"
RECORD = ".prepared.json"
BASES = ".prepared"           # the version each copy was made from, to tell what changed upstream
HUB_OFF = {name: value for name, value in run.OFFLINE_ENV.items() if name.endswith("_OFFLINE")}


def literal(value):
    """Python source for a profile's value, with double quotes as the chapters write strings."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)            # a JSON string is a Python string literal
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(map(literal, value)) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
    return repr(value)


def filled_in(source, chosen, profile_file):
    """The parameters cell's source with each name in `chosen` given its value (the comment after it kept), and a
    first line saying which values the offline profile set."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line.encode()))
    text = source.encode()
    spans = {}
    for node in tree.body:
        target = node.target if isinstance(node, ast.AnnAssign) else (
            node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None)
        if isinstance(target, ast.Name) and node.value is not None and target.id in chosen:
            spans[target.id] = (offsets[node.value.lineno - 1] + node.value.col_offset,
                                offsets[node.value.end_lineno - 1] + node.value.end_col_offset)
    if missing := sorted(set(chosen) - set(spans)):
        raise SystemExit(f"{profile_file} sets {', '.join(missing)}, which the parameters cell does not assign.")
    for name, (start, end) in sorted(spans.items(), key=lambda item: -item[1][0]):
        text = text[:start] + literal(chosen[name]).encode() + text[end:]
    head = textwrap.wrap(f"make lab-offline set {', '.join(chosen)} to the offline profile's values ({profile_file}); "
                         "the book's values are in chapters/. Edit them here.", 114)
    return "".join(f"# {line}\n" for line in head) + text.decode()


def prepared(notebook):
    """The chapter as text with the offline profile's values in its parameters cell, the same bytes every time."""
    chosen = run.chapter_parameters(notebook, "offline")
    nb = nbformat.read(notebook, as_version=4)
    cell, = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    cell.source = filled_in(cell.source, chosen, f"chapters/profiles/offline/{notebook.stem}.yaml")
    return nbformat.writes(nb) + "\n"


def sha256(text):
    return hashlib.sha256(text.encode()).hexdigest()


def content(text):
    """A notebook's code and text, without outputs, execution counts and metadata: what a reader changes by editing,
    not by running and saving."""
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception:                                          # not a notebook (any more): the reader's file
        return text
    return json.dumps([(c.cell_type, c.source) for c in nb.cells])


def fingerprint(text):
    return sha256(content(text))


def upstream_changes(old, new):
    """Which cells differ between two prepared versions of a chapter, by cell id: one line, e.g. "changed: cell-12
    ('source = ...'); added: cell-30". """
    def cells(text, by_id=True):
        return {c.get("id") if by_id else f"cell {i}": c.source
                for i, c in enumerate(nbformat.reads(text, as_version=4).cells, 1)}
    if old is None:
        return "unknown (no earlier version is kept here)"
    before, after = cells(old), cells(new)
    if not set(before) & set(after):                           # no cell ids in common: compare by position
        before, after = cells(old, False), cells(new, False)

    def named(ids, version):
        return ", ".join(f"{i} ({next((ln for ln in version[i].splitlines() if ln.strip()), '')[:40]!r})"
                         for i in ids)
    parts = [f"{what}: {named(ids, version)}" for what, ids, version in (
        ("changed", [i for i in after if i in before and before[i] != after[i]], after),
        ("added", [i for i in after if i not in before], after),
        ("removed", [i for i in before if i not in after], before)) if ids]
    return "; ".join(parts) or "only outputs or metadata changed"


def place(path, text, record):
    """Write `text` to `path` unless the reader has changed the code or text there; return what happened, or None when
    a changed copy is stale (its chapter has changed since it was prepared)."""
    digest = fingerprint(text)
    if not path.exists():
        outcome = "written"
    else:
        found = path.read_text()
        if found == text:
            record[path.name] = digest
            return "up to date"
        if fingerprint(found) == digest:                        # run and saved: outputs only
            record[path.name] = digest
            return "up to date (your outputs kept)"
        if record.get(path.name) not in (fingerprint(found), sha256(found)):   # edited since prepared (or not
            # prepared here); sha256 of the whole file: a record from before outputs were left out
            return "yours, kept (its chapter has not changed)" if record.get(path.name) == digest else None
        outcome = "updated (you had not changed it)"
    path.write_text(text)
    record[path.name] = digest
    return outcome


def offer(folder, notebook, text, record):
    """The newest version of a chapter beside the reader's changed copy, as the only .new-* copy the reader has not
    changed; returns the listing's lines."""
    bases = folder / BASES
    beside = folder / f"{notebook.stem}.new-{sha256(text)[:8]}.ipynb"
    removed, kept = [], []
    for older in sorted(folder.glob(f"{notebook.stem}.new-*.ipynb")):
        if older == beside:
            continue
        if fingerprint(older.read_text()) == record.get(older.name):
            older.unlink()
            record.pop(older.name, None)
            removed.append(older.name)
        else:
            kept.append(older.name)
    state = place(beside, text, record) or "yours, kept"
    base = bases / notebook.name
    first = (f"you changed it, and {notebook.stem} has changed since it was prepared" if notebook.name in record
             else "it was not prepared here (no record of it), so it counts as yours")
    lines = [f"yours, kept: {first}",
             f"new: {beside.name} ({state}), the chapter as it is now, with the offline values",
             f"changed upstream: {upstream_changes(base.read_text() if base.exists() else None, text)}"]
    if removed:
        lines.append(f"removed: {', '.join(removed)} (an older new version you had not changed)")
    if kept:
        lines.append(f"also yours: {', '.join(kept)} (an older new version you changed; kept)")
    return lines


def prepare(folder=FOLDER, selection=()):
    """Prepare a copy of each chapter in `folder`; return {copy's file name: what happened}, one line or several
    (a changed copy whose chapter changed: the reader's copy, the new one, what changed upstream)."""
    folder = Path(folder).resolve()
    if folder == run.CHAPTERS or run.CHAPTERS in folder.parents:
        raise SystemExit(f"{folder} is inside chapters/: choose a folder outside it (the default is my-chapters/).")
    (folder / BASES).mkdir(parents=True, exist_ok=True)
    record_file = folder / RECORD
    record = json.loads(record_file.read_text()) if record_file.exists() else {}
    outcomes = {}
    for notebook in run.chapters(selection):
        text = prepared(notebook)
        outcome = place(folder / notebook.name, text, record)
        if outcome is None:
            outcome = "\n".join(offer(folder, notebook, text, record))
        else:
            (folder / BASES / notebook.name).write_text(text)
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
    for name, outcome in outcomes.items():
        first, *more = outcome.splitlines()
        print(f"  {name:<{width}}  {first}" + "".join(f"\n  {'':<{width}}    {line}" for line in more))
    if args.prepare_only:
        return 0
    print(f"Opening JupyterLab in {shown(folder)}/ (the Hugging Face Hub switched off; Ctrl-C stops it).", flush=True)
    os.environ.update(HUB_OFF)              # the kernels inherit it: a Hub id fails at once instead of retrying
    os.execv(sys.executable, [sys.executable, "-m", "jupyterlab", *lab_options, str(folder)])


if __name__ == "__main__":
    sys.exit(main())
