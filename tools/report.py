"""The runner's report of a run of chapters.

Each chapter's status, wall time, peak memory, key results (what `record()` showed) and, when it failed, the cell
that failed."""
from utils.notebook import MIME


def results_of(nb):
    """The results a chapter recorded with `utils.notebook.record` (the last value of each key wins)."""
    found = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            found.update(out.get("data", {}).get(MIME, {}))
    return found


def failure_of(nb):
    """Which code cell of the chapter failed (counted without papermill's injected cell), its first line and the
    error; or that papermill failed before any cell ran."""
    code = [c for c in nb.cells if c.cell_type == "code" and "injected-parameters" not in c.metadata.get("tags", [])]
    for index, cell in enumerate(code):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                first = next((line for line in cell.source.splitlines() if line and not line.startswith("#")), "")
                return f"code cell {index + 1} of the chapter ({first[:60]!r}): {out['ename']}: {out['evalue'][:300]}"
    return "papermill failed before any cell ran (see the log above)"


def markdown(rows, profile, results=True, numerics=None):
    """report.md: the numerics it ran with, a table of the chapters, then each chapter's failure and results."""
    lines = [f"# Chapter run ({profile} profile)", ""] + ([numerics, ""] if numerics else []) + [
        "| chapter | status | wall time (s) | peak memory (MiB) |", "|---|---|---|---|"]
    lines += [f"| {r['chapter']} | {r['status']} | {r['wall_s']} | {r['peak_mib']} |" for r in rows]
    for r in rows:
        lines += ["", f"## {r['chapter']}: {r['status']}"]
        if "failed" in r:
            lines.append(f"Failed at {r['failed']}")
        if results:
            lines += [f"- {key}: {value}" for key, value in r.get("results", {}).items()]
    return "\n".join(lines) + "\n"
