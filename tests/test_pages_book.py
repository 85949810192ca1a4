"""The pages as a reader meets them: a chapter's dict results as tables, its setup cell folded under its one-line
title, and one table across the chapters of the book's printed values beside this run's (exact, close, differs, and
the model that produced this run's), gathered from what the chapters showed with utils.notebook.versus_book."""
import json
import re

import nbformat
import pytest

from tools import colab, report, run
from utils.notebook import book_verdict


@pytest.fixture
def book_chapters(tiny_chapters):
    tiny_chapters("ch96_book", "model = 'offline:tiny'",
                  "from utils.notebook import record, versus_book\n"
                  "versus_book(model, parameters_billions=(3.8, 3.8), clusters=(155, 150), outliers=(14520, 9))\n"
                  "record(scores={'k-means': {'ARI': 0.5, 'NMI': 0.6}}, n=3)")
    folder = tiny_chapters("ch97_setup", "value = 1", "print('the lesson')")
    path = folder / "ch97_setup.ipynb"
    nb = nbformat.read(path, as_version=4)
    setup = nbformat.v4.new_code_cell(colab.setup_cell(), metadata={"tags": ["setup"], **colab.COLLAPSED})
    nb.cells.insert(0, setup)
    nbformat.write(nb, path)
    return folder


@pytest.mark.notebook
def test_the_index_shows_dicts_as_tables_the_book_table_and_a_folded_setup_cell(book_chapters, tmp_path):
    out = tmp_path / "build"
    assert run.main(["--out", str(out)]) == 0
    index = (out / "index.html").read_text()
    assert ("<th>scores</th><td><table><tr><th>k-means</th><td><table><tr><th>ARI</th><td>0.5</td></tr><tr><th>NMI"
            "</th><td>0.6</td></tr></table></td></tr></table></td>") in index
    book = index.split('<h2 id="book">')[1].split("</table>")[0]
    rows = re.findall(r"<tr><td><a href=\"#(\w+)\">\w+</a></td><td>([^<]+)</td><td>([^<]+)</td><td>([^<]+)</td>"
                      r"<td class=\"(\w+)\">\w+</td><td>([^<]+)</td></tr>", book)
    assert rows == [("ch96_book", "parameters_billions", "3.8", "3.8", "exact", "offline:tiny"),
                    ("ch96_book", "clusters", "155", "150", "close", "offline:tiny"),
                    ("ch96_book", "outliers", "14520", "9", "differs", "offline:tiny")]
    page = (out / "ch97_setup.html").read_text()
    summary = re.search(r'<details class="setup"><summary>([^<]*)</summary>', page)
    assert summary and summary[1] == colab.TITLE.removeprefix("#@title").strip()
    assert page.index("<details") < page.index("google.colab") < page.index("</details>") < page.index("the lesson")


def test_a_verdict_is_exact_close_or_differs():
    assert book_verdict([1, 2], [1, 2]) == "exact" and book_verdict(0.80, 0.78) == "close"
    assert book_verdict(0.80, 0.70) == "differs" and book_verdict("speech", "space") == "differs"
    assert book_verdict(1, 1.04, rel=0.05) == "close" and book_verdict(1, 1.06, rel=0.05) == "differs"


def test_a_value_without_its_pair_stops_naming_the_shape(capsys):
    from utils.notebook import versus_book
    with pytest.raises(ValueError, match=r"versus_book\(clusters=...\) takes a pair"):
        versus_book("m", clusters=155)
    with pytest.raises(ValueError, match="at least one"):
        versus_book("m")


def test_the_recorded_chapters_show_the_books_values_to_the_pages():
    """Every chapter that prints the book's values beside its own hands them to the pages (the recordings are
    re-recorded by executing; until then this reads the chapters' own source)."""
    for path in sorted(run.CHAPTERS.glob("ch0[1245]*.ipynb")):
        sources = [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
        assert any("versus_book(" in s for s in sources), path.name
    assert json.dumps(report.book_values_of(nbformat.v4.new_notebook())) == "[]"
