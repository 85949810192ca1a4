"""Execute chapters headlessly with papermill and report status, wall time, peak memory and key results.

    python -m utils.run                         # every chapter, offline profile, into build/
    python -m utils.run ch01 --profile book     # the book's own models and data (needs the Hub, a GPU helps)
    python -m utils.run ch01 -p device cuda -p max_new_tokens 40
    python -m utils.run --record                # re-record tests/recordings/ (offline profile)

Profiles: "book" keeps the notebook's defaults; "offline" applies chapters/profiles/offline/<chapter>.yaml
(real models and data that PyPI packages ship) and switches the Hub off (HF_HUB_OFFLINE=1)."""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ROOT / "chapters"
PROFILES = CHAPTERS / "profiles"
RECORDINGS = ROOT / "tests" / "recordings"
MIME = "application/vnd.hollm.results+json"
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               "TOKENIZERS_PARALLELISM": "false", "PYTHONHASHSEED": "0"}


def record(**results):
    """Show a chapter's key results (nbval compares them) and tag them so the runner's report can list them."""
    from IPython.display import display
    text = "\n".join(f"{key}: {value}" for key, value in results.items())
    display({"text/plain": text, MIME: json.loads(json.dumps(results, default=str))}, raw=True)


def chapters(selection=()):
    """Chapter notebooks in order; `selection` holds stems or prefixes such as "ch01"."""
    found = sorted(CHAPTERS.glob("ch*.ipynb"))
    if not selection:
        return found
    picked = []
    for want in selection:
        match = [nb for nb in found if nb.stem == want or nb.stem.startswith(want + "_") or nb == Path(want).resolve()]
        if not match:
            raise SystemExit(f"No chapter matches {want!r}. Chapters: {', '.join(nb.stem for nb in found)}")
        picked += match
    return picked


def _results(nb):
    found = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            found.update(out.get("data", {}).get(MIME, {}))
    return found


def _failure(nb):
    code = [c for c in nb.cells if c.cell_type == "code" and "injected-parameters" not in c.metadata.get("tags", [])]
    for index, cell in enumerate(code):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                first = next((line for line in cell.source.splitlines() if line and not line.startswith("#")), "")
                return f"code cell {index + 1} of the chapter ({first[:60]!r}): {out['ename']}: {out['evalue'][:300]}"
    return "papermill failed before any cell ran (see the log above)"


def _tidy(nb):
    """Drop per-run timestamps so that a re-recording only changes what the notebook printed."""
    papermill = nb.metadata.get("papermill", {})
    for key in ("start_time", "end_time", "duration", "input_path", "output_path", "exception", "environment_variables"):
        papermill.pop(key, None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
    return nb


def execute(notebook, out_dir, profile="offline", overrides=(), env=None):
    """Run one chapter through papermill in a child process; return its report row."""
    out = out_dir / notebook.name
    cmd = [sys.executable, "-m", "papermill", str(notebook), str(out), "-k", "python3", "--cwd", str(CHAPTERS)]
    params = PROFILES / profile / f"{notebook.stem}.yaml"
    if profile != "book":
        if not params.exists():
            raise SystemExit(f"Profile {profile!r} has no parameters for {notebook.stem}: {params} is missing.")
        cmd += ["-f", str(params)]
    for name, value in overrides:
        cmd += ["-p", name, value]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    row = {"chapter": notebook.stem, "status": "ok" if proc.returncode == 0 else "FAILED",
           "wall_s": round(time.perf_counter() - start, 1), "peak_mib": round(usage.ru_maxrss / 1024)}
    if out.exists():
        nb = nbformat.read(out, as_version=4)
        row["results"] = _results(nb)
        if proc.returncode:
            row["failed"] = _failure(nb)
        nbformat.write(_tidy(nb), out)
    elif proc.returncode:
        row["failed"] = "papermill wrote no output notebook (see the log above)"
    return row


def report(rows, profile):
    lines = [f"# Chapter run ({profile} profile)", "",
             "| chapter | status | wall time (s) | peak memory (MiB) |", "|---|---|---|---|"]
    lines += [f"| {r['chapter']} | {r['status']} | {r['wall_s']} | {r['peak_mib']} |" for r in rows]
    for r in rows:
        lines += ["", f"## {r['chapter']}: {r['status']}"]
        if "failed" in r:
            lines.append(f"Failed at {r['failed']}")
        lines += [f"- {key}: {value}" for key, value in r.get("results", {}).items()]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m utils.run", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("chapter", nargs="*", help="chapter stems or prefixes (default: all)")
    parser.add_argument("--profile", default="offline", help="offline (default) or book")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    parser.add_argument("--out", default=str(ROOT / "build"), help="folder for executed notebooks and the report")
    parser.add_argument("--record", action="store_true", help="write into tests/recordings (offline profile only)")
    args = parser.parse_args(argv)

    out_dir = Path(args.out).resolve()
    notebooks_dir = RECORDINGS if args.record else out_dir
    if out_dir == CHAPTERS or CHAPTERS in out_dir.parents:
        raise SystemExit(f"--out {out_dir} is inside chapters/: the runner never writes over the chapters.")
    if args.record and (args.profile != "offline" or args.parameter):
        raise SystemExit("Recordings are made with the offline profile and no overrides (nbval replays them in CI).")
    if args.profile != "book" and not (PROFILES / args.profile).is_dir():
        raise SystemExit(f"Unknown profile {args.profile!r}: use 'book' or one of "
                         f"{sorted(p.name for p in PROFILES.iterdir() if p.is_dir())}.")
    out_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, **(OFFLINE_ENV if args.profile == "offline" else {}))

    rows = []
    for notebook in chapters(args.chapter):
        print(f"== {notebook.stem} ({args.profile} profile)", flush=True)
        rows.append(execute(notebook, notebooks_dir, args.profile, args.parameter, env))
        print(f"   {rows[-1]['status']} in {rows[-1]['wall_s']} s, peak {rows[-1]['peak_mib']} MiB", flush=True)
    text = report(rows, args.profile)
    (out_dir / "report.md").write_text(text)
    (out_dir / "report.json").write_text(json.dumps(rows, indent=2) + "\n")
    print("\n" + text + f"\nExecuted notebooks: {notebooks_dir}\nReport: {out_dir / 'report.md'}")
    return 1 if any(r["status"] != "ok" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
