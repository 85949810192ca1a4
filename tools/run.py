"""Execute chapters headlessly with papermill and report status, wall time, peak memory and key results.

    python -m tools.run                         # every chapter, offline profile, into build/
    python -m tools.run ch01 --profile book     # the book's own models and data (needs the Hub, a GPU helps)
    python -m tools.run ch01 -p device cuda -p max_new_tokens 40
    python -m tools.run ch05 -p extra_stop_words "[edu, com]"   # -p values are YAML, as papermill's -y reads them
    python -m tools.run ch03 --parameters       # the chapter's parameters: type, default, meaning
    python -m tools.run --record                # re-record tests/recordings/ (offline profile, pinned numerics)

Profiles: "book" keeps the notebook's defaults; "offline" applies chapters/profiles/offline/<chapter>.yaml
(real models and data that PyPI packages ship) and switches the Hub off (HF_HUB_OFFLINE=1). Numerics: "native" (the
default) runs the machine's own float kernels on all its cores; "pinned" (always with --record) the kernels that the
recordings replay on (tools/numerics.py). A parameter the chapter does not declare stops the run before anything
executes. Kernels are started on local IPC sockets where the OS has them (tools/engine.py). Whatever a chapter's
cells write to stderr (a warning, a library's note) is listed in the report, and fails the chapter unless
EXPECTED_STDERR declares it: a reader would see it in the notebook."""
import argparse
import difflib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import yaml

from utils.paths import CHAPTERS, ROOT

from . import engine, numerics, ranges, report

PROFILES = CHAPTERS / "profiles"
RECORDINGS = ROOT / "tests" / "recordings"
# every kernel the runner, `make record` and nbval start: progress() prints one line, and libraries' own tqdm bars
# (datamapplot's, ...) stay off, not stored half-drawn (a reader in JupyterLab or Colab still sees them)
HEADLESS = {"HOLLM_HEADLESS": "1", "TQDM_DISABLE": "1"}
# every kernel that executes a chapter offline starts with this: the runner, `make record`, the rehearsal and the
# nbval replays (tests/conftest.py); the Hub is off, and the Hugging Face libraries' own progress bars are off: their
# widgets would be stored at 0%. The float kernels are chosen apart (numerics.environment)
OFFLINE_ENV = {**HEADLESS, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               "HF_HUB_DISABLE_PROGRESS_BARS": "1", "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
               "TOKENIZERS_PARALLELISM": "false", "PYTHONHASHSEED": "0"}
# what a chapter may write to stderr without failing: (pattern, reason) pairs, each pattern a regular expression
# searched in one stderr entry. None for `make run` and `make colab-stack`: every chapter runs without a warning on our
# pinned stack and on Colab's. The rehearsal adds notes that only its own offline setting causes (tools/rehearse.py).
EXPECTED_STDERR = ()


def with_output_dir(notebook, chosen, out_dir):
    """`chosen` plus output_dir = <out_dir>/<chapter> for a chapter that declares it, unless given or the default."""
    folder = Path(out_dir).resolve() / notebook.stem
    default = folder == ROOT / "build" / notebook.stem
    if default or "output_dir" in chosen or "output_dir" not in declared(notebook):
        return chosen
    return {**chosen, "output_dir": str(folder)}


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


def declared(notebook):
    """name -> {"type", "default", "help"} from the notebook's parameters cell, as papermill infers them."""
    import papermill
    return {name: {"type": p["inferred_type_name"], "default": p["default"], "help": p["help"]}
            for name, p in papermill.inspect_notebook(str(notebook)).items()}


def parse_value(text, type_name):
    """A -p value as papermill's -y reads it (YAML: numbers, lists, null, booleans); a parameter declared as
    text keeps the text as given."""
    if text in ("null", "None", "~"):
        return None
    return text if type_name in ("str", "Optional[str]") else yaml.safe_load(text)


def unknown_names(names, notebook, known):
    """A message refusing names the chapter does not declare, with the closest match, or None."""
    wrong = [n for n in names if n not in known]
    if not wrong:
        return None
    hints = [f"{n!r}" + (f" (did you mean {close[0]!r}?)" if (close := difflib.get_close_matches(n, known, 1)) else "")
             for n in wrong]
    return (f"{notebook.stem} has no parameter {', '.join(hints)}. Its parameters: {', '.join(known)} "
            f"(python -m tools.run {notebook.stem[:4]} --parameters).")


def chapter_parameters(notebook, profile="offline", overrides=()):
    """The parameters papermill injects: the profile's file, then each -p NAME VALUE parsed as papermill's -y
    does. A name the chapter does not declare stops the run before papermill starts."""
    known = declared(notebook)
    chosen = {}
    if profile != "book":
        file = PROFILES / profile / f"{notebook.stem}.yaml"
        if not file.exists():
            raise SystemExit(f"Profile {profile!r} has no parameters for {notebook.stem}: {file} is missing.")
        chosen.update(yaml.safe_load(file.read_text()) or {})
    for name, value in overrides:
        chosen[name] = parse_value(value, known.get(name, {}).get("type", ""))
    if problem := unknown_names(chosen, notebook, known):
        raise SystemExit(problem)
    return chosen


def peak_mib(ru_maxrss, platform=sys.platform):
    """getrusage's ru_maxrss in MiB: it counts bytes on macOS and KiB on Linux."""
    return round(ru_maxrss / (1024 * 1024 if platform == "darwin" else 1024))


def stderr_of(nb):
    """(code cell number, entry) for everything the chapter's cells wrote to stderr (their stream outputs named
    stderr: Python's warnings, logging, a library's notes), cells counted as `report.failure_of` counts them. One
    entry per line; an indented line (the source line Python prints under a warning) belongs to the entry above."""
    code = [c for c in nb.cells if c.cell_type == "code" and "injected-parameters" not in c.metadata.get("tags", [])]
    found = []
    for index, cell in enumerate(code):
        for out in cell.get("outputs", []):
            if out.get("output_type") != "stream" or out.get("name") != "stderr":
                continue
            for line in out.get("text", "").splitlines():
                if not line.strip():
                    continue
                if line[:1].isspace() and found and found[-1][0] == index + 1:
                    found[-1] = (index + 1, found[-1][1] + "\n" + line)
                else:
                    found.append((index + 1, line))
    return found


def checked_stderr(nb, expected=EXPECTED_STDERR):
    """The chapter's stderr entries, each as {"cell", "text", "expected"}: "expected" is the reason of the first
    (pattern, reason) of `expected` whose pattern the entry matches, or None."""
    return [{"cell": cell, "text": text,
             "expected": next((why for pattern, why in expected if re.search(pattern, text)), None)}
            for cell, text in stderr_of(nb)]


def execute(notebook, out_dir, chosen, env=None, expected=EXPECTED_STDERR):
    """Run one chapter through papermill in a child process with the `chosen` parameters; return its report row.
    A chapter that writes to stderr anything `expected` does not declare fails, the first such entry named."""
    out = out_dir / notebook.name
    cmd = [sys.executable, "-m", "tools.engine", str(notebook), str(out), "-k", "python3", "--cwd", str(CHAPTERS),
           "--engine", engine.NAME]
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
        row["results"] = report.results_of(nb)
        row["stderr"] = checked_stderr(nb, expected)
        if proc.returncode:
            row["failed"] = report.failure_of(nb)
        elif undeclared := [e for e in row["stderr"] if e["expected"] is None]:
            row["status"] = "FAILED"
            first = undeclared[0]
            row["failed"] = (f"code cell {first['cell']} of the chapter, which wrote to stderr what is not declared "
                             f"expected ({len(undeclared)} undeclared in all): {first['text'][:300]}")
        nbformat.write(_tidy(nb), out)
    elif proc.returncode:
        row["failed"] = "papermill wrote no output notebook (see the log above)"
    return row


def execute_all(plan, out_dir, env, label, ranges_profile=None, expected=EXPECTED_STDERR):
    """Execute each (notebook, parameters) of `plan` in turn, saying how each went and what it wrote to stderr; a
    chapter whose results fall outside chapters/ranges/<ranges_profile>/ fails (tools/ranges.py). Return the report
    rows."""
    rows = []
    for notebook, chosen in plan:
        print(f"== {notebook.stem} ({label})", flush=True)
        rows.append(execute(notebook, out_dir, chosen, env, expected))
        outside = ranges.check(rows[-1], ranges_profile) if ranges_profile else []
        print(f"   {rows[-1]['status']} in {rows[-1]['wall_s']} s, peak {rows[-1]['peak_mib']} MiB", flush=True)
        for line in outside:
            print(f"   out of range: {line}", flush=True)
        for entry in rows[-1].get("stderr", []):
            kind = f"expected: {entry['expected']}" if entry["expected"] else "NOT DECLARED"
            print(f"   stderr, code cell {entry['cell']} ({kind}): {entry['text']}", flush=True)
    return rows


def parameter_table(notebook):
    """The chapter's parameters as its parameters cell declares them (papermill's inference), with the offline
    profile's value beside each default."""
    offline = PROFILES / "offline" / f"{notebook.stem}.yaml"
    offline = yaml.safe_load(offline.read_text()) if offline.exists() else {}
    lines = [f"{notebook.stem}:"]
    for name, p in declared(notebook).items():
        lines.append(f"  {name}: {p['type']} = {p['default']}" + (f"   # {p['help']}" if p["help"] else ""))
        if name in offline:
            lines.append(f"      offline profile: {offline[name]!r}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.run", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("chapter", nargs="*", help="chapter stems or prefixes (default: all)")
    parser.add_argument("--profile", default="offline", help="offline (default) or book")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    parser.add_argument("--out", default=str(ROOT / "build"), help="folder for executed notebooks and the report")
    parser.add_argument("--numerics", choices=["native", "pinned"], help="the machine's own float kernels on all "
                        "its cores (default), or the kernels the recordings replay on (the default with --record)")
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
    if args.record and (args.profile != "offline" or args.parameter or args.numerics == "native"):
        raise SystemExit("Recordings are made with the offline profile, no overrides and pinned numerics (nbval "
                         "replays them in CI).")
    chosen_numerics = args.numerics or ("pinned" if args.record else "native")
    if args.profile != "book" and not (PROFILES / args.profile).is_dir():
        raise SystemExit(f"Unknown profile {args.profile!r}: use 'book' or one of "
                         f"{sorted(p.name for p in PROFILES.iterdir() if p.is_dir())}.")
    out_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, **(OFFLINE_ENV if args.profile == "offline" else HEADLESS),
               **numerics.environment(chosen_numerics))

    if args.record:           # the chapters' files go to a scratch folder, as in the replays: never over build/
        scratch = tempfile.TemporaryDirectory(prefix="hollm-record-")
        env["HOLLM_OUTPUT"] = scratch.name
        plan = [(nb, chapter_parameters(nb, args.profile)) for nb in chapters(args.chapter)]
    else:
        plan = [(nb, with_output_dir(nb, chapter_parameters(nb, args.profile, args.parameter), out_dir))
                for nb in chapters(args.chapter)]
    print(numerics.summary(chosen_numerics), flush=True)
    rows = execute_all(plan, notebooks_dir, env, f"{args.profile} profile", ranges_profile=args.profile)
    if args.record:
        scratch.cleanup()
    text = report.markdown(rows, args.profile, numerics=numerics.summary(chosen_numerics))
    (out_dir / "report.md").write_text(text)
    (out_dir / "report.json").write_text(json.dumps(rows, indent=2) + "\n")
    print("\n" + text + f"\nExecuted notebooks: {notebooks_dir}\nReport: {out_dir / 'report.md'}")
    print(f"Pages (open in a browser): {report.write_pages(rows, notebooks_dir, out_dir, args.profile)}")
    return 1 if any(r["status"] != "ok" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
