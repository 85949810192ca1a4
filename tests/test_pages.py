"""The run as pages: each executed chapter as HTML and build/index.html with status, time, peak memory, key results
and figures, all of which open from the disk without a server and without the network."""
import json
import re
import socket
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_markdown_cell

from tools import report, run

# what a browser fetches by itself when it opens a page: scripts, stylesheets, images, frames, CSS imports
LOADS = re.compile(r"<(?:script|link|img|iframe|embed|source|audio|video|object)\b[^>]*?\b(?:src|href|data)\s*=\s*"
                   r"[\"']?((?:https?:)?//[^\"'\s>]*)", re.IGNORECASE)
CSS_LOADS = re.compile(r"(?:@import\s+(?:url\()?|url\()\s*[\"']?((?:https?:)?//[^\"')\s]*)", re.IGNORECASE)


def remote_resources(html):
    return LOADS.findall(html) + CSS_LOADS.findall(html)


def local_links(html):
    """Every href and src of the page that is neither on the web, nor a data URI, nor an anchor of the page."""
    return [link for link in re.findall(r"\b(?:href|src)=\"([^\"]*)\"", html)
            if not re.match(r"(https?:|data:|#)", link)]


def test_the_check_finds_what_a_browser_would_fetch():
    assert remote_resources('<script src="https://cdnjs.cloudflare.com/require.min.js"></script>')
    assert remote_resources('<link rel="stylesheet" href="//cdn.example.org/a.css">')
    assert remote_resources("<style>@import url('https://fonts.example.org/x.css');</style>")
    assert remote_resources('<img alt="badge" src="https://colab.research.google.com/assets/colab-badge.svg">')
    assert not remote_resources('<a href="https://colab.research.google.com/">link</a><img src="data:,">')


@pytest.fixture
def two_chapters(tiny_chapters, tmp_path):
    """A chapter that shows a figure, writes one into its output folder and records a result; one that fails."""
    tiny_chapters("ch98_figures", "value = 2\noutput_dir = None",
                  "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.show()",
                  "from utils.notebook import output_folder, record\nout = output_folder(output_dir, 'ch98_figures')\n"
                  "(out / 'map.html').write_text('<p>a map</p>')\nprint('[figure]', out.name + '/map.html')\n"
                  "record(doubled=value * 2)", offline="value: 21\n")
    folder = tiny_chapters("ch99_breaks", "value = 2", "raise ValueError('the model id is wrong')")
    first = folder / "ch98_figures.ipynb"
    nb = nbformat.read(first, as_version=4)
    nb.cells[1:1] = [new_markdown_cell("# A tiny chapter\n[![Open In Colab](https://colab.research.google.com/"
                                       "assets/colab-badge.svg)](https://colab.research.google.com/x)\n## The plot")]
    nbformat.write(nb, first)
    stale = tmp_path / "build" / "ch98_figures"
    stale.mkdir(parents=True)
    (stale / "old.html").write_text("<p>from an earlier run</p>")       # the chapter does not name it this time
    return folder


def test_a_run_writes_each_chapter_as_a_page_and_an_index_that_needs_no_network(two_chapters, tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("no network in this test")
    out = tmp_path / "build"
    monkeypatch.setattr(socket.socket, "connect", refuse)       # this process writes the pages: nothing may connect
    assert run.main(["--out", str(out)]) == 1
    rows = {r["chapter"]: r for r in json.loads((out / "report.json").read_text())}
    index = (out / "index.html").read_text()
    pages = {stem: (out / f"{stem}.html").read_text() for stem in rows}

    for stem, row in rows.items():
        assert f'href="{stem}.html"' in index and f'<td class="number">{row["wall_s"]}</td>' in index
        assert f'<td class="number">{row["peak_mib"]}</td>' in index and f'<td class="{row["status"]}">' in index
    assert "<th>doubled</th><td>42</td>" in index and "ValueError: the model id is wrong" in index
    assert "A tiny chapter" in index and "<figcaption>The plot</figcaption>" in index

    figure, = re.findall(r'<a href="ch98_figures.html#([^"]+)"><img src="data:image/png;base64,', index)
    assert f'id="{figure}"' in pages["ch98_figures"]                       # the figure links to its own cell
    assert 'href="ch98_figures/map.html"' in index and "old.html" not in index
    assert "ValueError" in pages["ch99_breaks"] and "Open In Colab" in pages["ch98_figures"]

    for html in (index, *pages.values()):
        assert remote_resources(html) == []
        assert all((out / link.split("#")[0]).is_file() for link in local_links(html)), local_links(html)


def test_nbconverts_own_template_would_need_the_network_and_ours_does_not():
    """The lab template loads require.js from a CDN; the pages leave it (and MathJax, mermaid) out."""
    from nbconvert import HTMLExporter
    nb = nbformat.read(run.RECORDINGS / "ch01_introduction.ipynb", as_version=4)
    assert remote_resources(HTMLExporter(template_name="lab").from_notebook_node(nb)[0])
    assert remote_resources(report.chapter_page(nb, "Chapter 1")) == []


def test_every_recorded_chapter_and_its_figures_are_in_the_index(tmp_path):
    """The five chapters as `make run` leaves them (their recordings): a page each, every figure in the index."""
    rows = [{"chapter": nb.stem, "status": "ok", "wall_s": 1.0, "peak_mib": 100,
             "results": report.results_of(nbformat.read(run.RECORDINGS / nb.name, as_version=4))}
            for nb in run.chapters()]
    index = report.write_pages(rows, run.RECORDINGS, tmp_path, "offline").read_text()
    assert len(rows) == 5
    for row in rows:
        nb = nbformat.read(run.RECORDINGS / f"{row['chapter']}.ipynb", as_version=4)
        images = sum(mime.startswith("image/") for c in nb.cells for o in c.get("outputs", [])
                     for mime in o.get("data", {}))
        shown = re.findall(rf'<a href="{row["chapter"]}.html#[^"]+"><img src="data:image/png', index)
        assert images and len(shown) == images, row["chapter"]
        page = (tmp_path / f"{row['chapter']}.html").read_text()
        assert remote_resources(page) == [] and row["chapter"] in index


def test_the_chapters_interactive_figures_open_offline(tmp_path, monkeypatch):
    """Chapter 5's plotly figures, as a headless run writes them into its output folder, carry plotly.js inline."""
    import plotly.graph_objects as go

    from utils.plots import show_interactive
    monkeypatch.setenv("HOLLM_HEADLESS", "1")
    show_interactive(go.Figure(go.Scatter(x=[1, 2], y=[3, 1])), tmp_path / "figure.html")
    html = Path(tmp_path / "figure.html").read_text()
    assert "<script" in html and remote_resources(html) == []
