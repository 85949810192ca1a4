"""Execute chapters headlessly with papermill and report status, wall time, peak memory and key results.

    python -m utils.run                         # every chapter, offline profile, into build/
    python -m utils.run ch01 --profile book     # the book's own models and data (needs the Hub, a GPU helps)
    python -m utils.run ch01 -p device cuda -p max_new_tokens 40
    python -m utils.run ch03 -p kv_cache_lengths "[5, 20]"   # -p values are YAML, as papermill's -y reads them
    python -m utils.run ch03 --parameters       # the chapter's parameters: type, default, meaning
    python -m utils.run --record                # re-record tests/recordings/ (offline profile)

Profiles: "book" keeps the notebook's defaults; "offline" applies chapters/profiles/offline/<chapter>.yaml
(real models and data that PyPI packages ship), switches the Hub off (HF_HUB_OFFLINE=1) and pins the float kernels
(utils/numerics.py). A parameter the chapter does not declare stops the run before anything executes."""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import yaml

from . import numerics, params

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ROOT / "chapters"
PROFILES = CHAPTERS / "profiles"
RECORDINGS = ROOT / "tests" / "recordings"
MIME = "application/vnd.hollm.results+json"
# every kernel that executes a chapter offline starts with this: the runner, `make record` and the nbval replays
# (tests/conftest.py); the Hub is off, the float kernels are pinned (utils/numerics.py), and the libraries' own
# progress bars are off: their widgets would be stored at 0% (a reader in JupyterLab or Colab still sees them)
HEADLESS = {"HOLLM_HEADLESS": "1", "TQDM_DISABLE": "1"}   # every kernel the runner, `make record` and nbval start:
# progress() prints one line, and libraries' own tqdm bars (datamapplot's, ...) stay off, not stored half-drawn
OFFLINE_ENV = {**HEADLESS, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               "HF_HUB_DISABLE_PROGRESS_BARS": "1", "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
               "TOKENIZERS_PARALLELISM": "false", "PYTHONHASHSEED": "0", **numerics.pinned_env()}


def record(**results):
    """Show a chapter's key results (nbval compares them) and tag them so the runner's report can list them."""
    from IPython.display import display
    text = "\n".join(f"{key}: {value}" for key, value in results.items())
    display({"text/plain": text, MIME: json.loads(json.dumps(results, default=str))}, raw=True)


def output_folder(output_dir, chapter):
    """The folder a chapter writes its files into (created): `output_dir`, or build/<chapter>/ of the companion when
    it is None. A folder inside chapters/ is refused: the chapters stay as they are."""
    folder = (Path(output_dir) if output_dir else ROOT / "build" / chapter).resolve()
    if folder == CHAPTERS or CHAPTERS in folder.parents:
        raise ValueError(f"output_dir {output_dir!r} is inside chapters/: choose a folder outside it (None gives "
                         f"build/{chapter}/).")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def with_output_dir(notebook, chosen, out_dir):
    """`chosen` plus output_dir = <out_dir>/<chapter> for a chapter that declares it, unless given or the default."""
    folder = Path(out_dir).resolve() / notebook.stem
    default = folder == ROOT / "build" / notebook.stem
    if default or "output_dir" in chosen or "output_dir" not in params.declared(notebook):
        return chosen
    return {**chosen, "output_dir": str(folder)}


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
    for key in ("start_time", "end_time", "duration", "input_path", "output_path", "exception",
                "environment_variables"):
        papermill.pop(key, None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
    return nb


def chapter_parameters(notebook, profile="offline", overrides=()):
    """The parameters papermill injects: the profile's file, then each -p NAME VALUE parsed as papermill's -y
    does. A name the chapter does not declare stops the run before papermill starts."""
    known = params.declared(notebook)
    chosen = {}
    if profile != "book":
        file = PROFILES / profile / f"{notebook.stem}.yaml"
        if not file.exists():
            raise SystemExit(f"Profile {profile!r} has no parameters for {notebook.stem}: {file} is missing.")
        chosen.update(yaml.safe_load(file.read_text()) or {})
    for name, value in overrides:
        chosen[name] = params.parse_value(value, known.get(name, {}).get("type", ""))
    if problem := params.unknown_names(chosen, notebook, known):
        raise SystemExit(problem)
    return chosen


def peak_mib(ru_maxrss, platform=sys.platform):
    """getrusage's ru_maxrss in MiB: it counts bytes on macOS and KiB on Linux."""
    return round(ru_maxrss / (1024 * 1024 if platform == "darwin" else 1024))


def execute(notebook, out_dir, chosen, env=None):
    """Run one chapter through papermill in a child process with the `chosen` parameters; return its report row."""
    out = out_dir / notebook.name
    cmd = [sys.executable, "-m", "papermill", str(notebook), str(out), "-k", "python3", "--cwd", str(CHAPTERS)]
    if chosen:
        cmd += ["-y", yaml.safe_dump(chosen, allow_unicode=True)]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env)
    if hasattr(os, "wait4"):                                # POSIX: the child's peak resident memory, kernel included
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode, peak = os.waitstatus_to_exitcode(status), peak_mib(usage.ru_maxrss)
    else:                                                   # Windows has no wait4: no peak memory is reported
        proc.returncode, peak = proc.wait(), None
    row = {"chapter": notebook.stem, "status": "ok" if proc.returncode == 0 else "FAILED",
           "wall_s": round(time.perf_counter() - start, 1), "peak_mib": peak}
    if out.exists():
        nb = nbformat.read(out, as_version=4)
        row["results"] = _results(nb)
        if proc.returncode:
            row["failed"] = _failure(nb)
        nbformat.write(_tidy(nb), out)
    elif proc.returncode:
        row["failed"] = "papermill wrote no output notebook (see the log above)"
    return row


def execute_all(plan, out_dir, env, label):
    """Execute each (notebook, parameters) of `plan` in turn, saying how each went; return the report rows."""
    rows = []
    for notebook, chosen in plan:
        print(f"== {notebook.stem} ({label})", flush=True)
        rows.append(execute(notebook, out_dir, chosen, env))
        print(f"   {rows[-1]['status']} in {rows[-1]['wall_s']} s, peak {rows[-1]['peak_mib']} MiB", flush=True)
    return rows


def parameter_table(notebook):
    """The chapter's parameters as its parameters cell declares them (papermill's inference), with the offline
    profile's value beside each default."""
    offline = PROFILES / "offline" / f"{notebook.stem}.yaml"
    offline = yaml.safe_load(offline.read_text()) if offline.exists() else {}
    lines = [f"{notebook.stem}:"]
    for name, p in params.declared(notebook).items():
        lines.append(f"  {name}: {p['type']} = {p['default']}" + (f"   # {p['help']}" if p["help"] else ""))
        if name in offline:
            lines.append(f"      offline profile: {offline[name]!r}")
    return "\n".join(lines)


def report(rows, profile, results=True):
    lines = [f"# Chapter run ({profile} profile)", "",
             "| chapter | status | wall time (s) | peak memory (MiB) |", "|---|---|---|---|"]
    lines += [f"| {r['chapter']} | {r['status']} | {r['wall_s']} | {r['peak_mib']} |" for r in rows]
    for r in rows:
        lines += ["", f"## {r['chapter']}: {r['status']}"]
        if "failed" in r:
            lines.append(f"Failed at {r['failed']}")
        if results:
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
    parser.add_argument("--parameters", action="store_true", help="list each chapter's parameters and stop")
    args = parser.parse_args(argv)
    if args.parameters:
        for notebook in chapters(args.chapter):
            print(parameter_table(notebook))
        return 0

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
    env = dict(os.environ, **(OFFLINE_ENV if args.profile == "offline" else HEADLESS))

    plan = [(nb, with_output_dir(nb, chapter_parameters(nb, args.profile, args.parameter), out_dir))
            for nb in chapters(args.chapter)]
    rows = execute_all(plan, notebooks_dir, env, f"{args.profile} profile")
    text = report(rows, args.profile)
    (out_dir / "report.md").write_text(text)
    (out_dir / "report.json").write_text(json.dumps(rows, indent=2) + "\n")
    print("\n" + text + f"\nExecuted notebooks: {notebooks_dir}\nReport: {out_dir / 'report.md'}")
    return 1 if any(r["status"] != "ok" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
