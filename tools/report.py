"""The runner's report of a run of chapters: report.md, and the run as HTML pages.

Each chapter's status, wall time, peak memory, key results (what `record()` showed), what its cells wrote to stderr
and, when it failed, the cell that failed; the pages add each executed chapter as HTML and its figures."""
import copy
import os
import re
import time
from html import escape
from pathlib import Path

import nbformat

from utils.notebook import BOOK_MIME, MIME


def results_of(nb):
    """The results a chapter recorded with `utils.notebook.record` (the last value of each key wins)."""
    found = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            found.update(out.get("data", {}).get(MIME, {}))
    return found


def book_values_of(nb):
    """The (what, the book's, this run's, verdict, model) rows a chapter showed with `utils.notebook.versus_book`,
    in order (the last row of each name wins)."""
    found = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            for row in out.get("data", {}).get(BOOK_MIME, []):
                found[row["what"]] = row
    return list(found.values())


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
        lines += [f"- stderr, code cell {e['cell']}: `` {e['text']} `` "
                  + (f"(expected: {e['expected']})" if e["expected"] else "(NOT DECLARED expected)")
                  for e in r.get("stderr", [])]
        if results:
            lines += [f"- {key}: {value}" for key, value in r.get("results", {}).items()]
    return "\n".join(lines) + "\n"


# nbconvert's lab template without the scripts it fetches from a CDN: require.js (widgets), MathJax and mermaid, which
# the chapters do not use; its stylesheets are inlined, so the page needs no network and no server
# The setup cell (tagged `setup`) is folded under its one-line title, as Colab's form view and JupyterLab show it.
PAGE_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block input_group -%}
{%- if 'setup' in cell.metadata.get('tags', []) -%}
<details class="setup"><summary>{{ cell.source.splitlines()[0].replace('#@title', '').strip() | e }}</summary>
{{ super() }}
</details>
{%- else -%}{{ super() }}{%- endif -%}
{%- endblock input_group -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""
REMOTE_IMAGE = re.compile(r"!\[([^\]]*)\]\(https?://[^)]*\)")          # Markdown images on the web (Colab's badge)
IMAGES = ("image/png", "image/jpeg")
STYLE = """body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; padding: 0 1em; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: .3em .6em; text-align: left; }
td.number { text-align: right; } .ok { color: #1a7f37; } .FAILED { color: #cf222e; font-weight: bold; }
figure { display: inline-block; margin: .5em; vertical-align: top; }
figure img { max-width: 22em; border: 1px solid #ddd; } figcaption { font-size: .85em; max-width: 26em; }
table table { margin: 0; } .exact { color: #1a7f37; } .close { color: #9a6700; } .differs { color: #cf222e; }"""


def value_html(value):
    """A recorded value as HTML: a dict as a table of its keys and values (nested dicts nested), anything else as
    its text."""
    if isinstance(value, dict) and value:
        return "<table>" + "".join(f"<tr><th>{escape(str(key))}</th><td>{value_html(item)}</td></tr>"
                                   for key, item in value.items()) + "</table>"
    return escape(str(value))


def book_table(pairs):
    """One table across the chapters: each value the book prints beside this run's, the verdict and the model that
    produced this run's; `pairs` is [(chapter, row of book_values_of)]."""
    if not pairs:
        return ("<p>No chapter showed values of the book beside its own "
                "(<code>utils.notebook.versus_book</code>).</p>")
    body = "".join(f'<tr><td><a href="#{escape(chapter)}">{escape(chapter)}</a></td><td>{escape(r["what"])}</td>'
                   f'<td>{value_html(r["book"])}</td><td>{value_html(r["ours"])}</td>'
                   f'<td class="{escape(r["verdict"])}">{escape(r["verdict"])}</td><td>{escape(r["model"])}</td></tr>'
                   for chapter, r in pairs)
    return ("<table><tr><th>chapter</th><th>value</th><th>the book</th><th>this run</th><th>verdict</th>"
            f"<th>model of this run</th></tr>{body}</table>")


def chapter_page(nb, title):
    """An executed chapter as one HTML page that loads nothing from the network (Markdown images on the web are
    replaced by their text; output images are embedded)."""
    import jinja2
    from nbconvert import HTMLExporter
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = REMOTE_IMAGE.sub(r"\1", cell.source)
    exporter = HTMLExporter(template_name="lab", template_file="offline.html.j2",
                            extra_loaders=[jinja2.DictLoader({"offline.html.j2": PAGE_TEMPLATE})])
    return exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})[0]


def title_of(nb, default):
    """The chapter's first Markdown heading."""
    for cell in nb.cells:
        for line in cell.source.splitlines() if cell.cell_type == "markdown" else ():
            if line.startswith("#"):
                return line.lstrip("#").strip()
    return default


def figures_of(nb):
    """(cell id, the heading above the cell, mimetype, base64 data) of every image a chapter's cells displayed."""
    heading = ""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            heading = next((line.lstrip("#").strip() for line in reversed(cell.source.splitlines())
                            if line.startswith("#")), heading)
        for out in cell.get("outputs", []):
            for mime in IMAGES:
                if mime in out.get("data", {}):
                    yield cell.get("id", ""), heading, mime, out["data"][mime]


def files_named(nb, folder):
    """The files in `folder` (a chapter's output folder) that the chapter named in its outputs: what this run wrote,
    not what an earlier one left."""
    said = "\n".join(out.get("text", "") + out.get("data", {}).get("text/plain", "")
                     for cell in nb.cells for out in cell.get("outputs", []))
    return [f for f in sorted(Path(folder).glob("*")) if f.is_file()
            and re.search(rf"(^|[\s/]){re.escape(f.name)}($|[\s)])", said, re.MULTILINE)]


def chapter_section(row, nb, folder, out_dir):
    """The index's part for one chapter: status, failure, key results, figures (each linking to its cell in the
    chapter's page) and the files the chapter named in its output folder."""
    name, status = escape(row["chapter"]), escape(row["status"])
    page = f"{name}.html"
    head = f'<a href="{page}">{escape(title_of(nb, row["chapter"]))}</a>' if nb else f"{name} (no notebook was written)"
    lines = [f'<section id="{name}"><h2>{head}: <span class="{status}">{status}</span></h2>']
    if "failed" in row:
        lines.append(f"<p>Failed at {escape(row['failed'])}</p>")
    if row.get("stderr"):
        lines.append("<p>Written to stderr:</p><ul>" + "".join(
            f"<li>code cell {e['cell']}: <pre>{escape(e['text'])}</pre>"
            + (f"expected: {escape(e['expected'])}" if e["expected"] else '<span class="FAILED">not declared</span>')
            + "</li>" for e in row["stderr"]) + "</ul>")
    if row.get("results"):
        lines.append(value_html(row["results"]))
    for cell_id, heading, mime, data in figures_of(nb) if nb else ():
        lines.append(f'<figure><a href="{page}#cell-id={escape(cell_id)}"><img src="data:{mime};base64,{data.strip()}"'
                     f' alt="{escape(heading)}"></a><figcaption>{escape(heading)}</figcaption></figure>')
    for file in files_named(nb, folder) if nb else ():
        link = escape(Path(os.path.relpath(file, out_dir)).as_posix())
        inner = f'<img src="{link}" alt="{escape(file.name)}">' if file.suffix == ".png" else escape(file.name)
        lines.append(f'<figure><a href="{link}">{inner}</a><figcaption>{escape(file.name)}, written by the chapter'
                     "</figcaption></figure>")
    return "\n".join(lines + ["</section>"])


def write_pages(rows, notebooks_dir, out_dir, profile):
    """Each executed chapter as <out_dir>/<chapter>.html, and <out_dir>/index.html linking them with each
    chapter's status, time, peak memory, key results and figures; all of it opens from the disk, without a server
    or a network. Returns the index's path."""
    out_dir, sections, versus = Path(out_dir), [], []
    for row in rows:
        notebook = Path(notebooks_dir) / f"{row['chapter']}.ipynb"
        nb = nbformat.read(notebook, as_version=4) if notebook.exists() else None
        versus += [(row["chapter"], pair) for pair in (book_values_of(nb) if nb else [])]
        if nb:
            (out_dir / f"{row['chapter']}.html").write_text(chapter_page(nb, title_of(nb, row["chapter"])),
                                                            encoding="utf-8")
        chosen = nb.metadata.get("papermill", {}).get("parameters", {}) if nb else {}
        sections.append(chapter_section(row, nb, chosen.get("output_dir") or out_dir / row["chapter"], out_dir))
    title = f"Chapter run ({escape(profile)} profile)"
    table = "".join(f'<tr><td><a href="#{escape(r["chapter"])}">{escape(r["chapter"])}</a></td>'
                    f'<td class="{escape(r["status"])}">{escape(r["status"])}</td><td class="number">{r["wall_s"]}</td>'
                    f'<td class="number">{r["peak_mib"]}</td></tr>' for r in rows)
    index = out_dir / "index.html"
    index.write_text(f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title><style>{STYLE}</style></head>
<body><h1>{title}</h1>
<p>Written by <code>python -m tools.run</code> on {time.strftime("%Y-%m-%d %H:%M")}. Each chapter's page is the
executed notebook; a figure links to its cell there. Everything opens from the disk, without a server or a network.</p>
<table><tr><th>chapter</th><th>status</th><th>wall time (s)</th><th>peak memory (MiB)</th></tr>{table}</table>
<h2 id="book">The book's printed values beside this run's</h2>
<p>Exact: the same value; close: numbers within 5% (or the tolerance the chapter gives); differs: anything else,
often because this run's model is not the book's (the offline profile's stand-ins), its data is a sample, or the
libraries have moved on since the book.</p>
{book_table(versus)}
{"".join(sections)}
</body></html>
""", encoding="utf-8")
    return index
