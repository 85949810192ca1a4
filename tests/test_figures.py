"""Figures as evidence (utils/figures.py): the text a replay compares for a figure names what it draws, changes when
one point moves or a bar grows, stays the same for the same data, and is what IPython sends beside the picture."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from utils.figures import register, summary  # noqa: E402


def scatter(points, bars=(3.0, 1.0), title="GloVe vectors in 2-D"):
    fig, (left, right) = plt.subplots(1, 2, figsize=(6.5, 4.5))
    left.scatter(points[:, 0], points[:, 1])
    left.annotate("king", points[0])
    left.set_title(title)
    left.set_xlabel("first principal component")
    right.bar(["a", "b"], bars)
    right.plot([0, 1], [0.5, 2.5], marker="o")
    return fig


@pytest.fixture
def points():
    return np.array([[0.0, 0.0], [1.0, 2.0], [2.0, 1.0], [3.0, 3.0]])


def test_the_summary_says_what_is_drawn(points):
    fig = scatter(points)
    lines = summary(fig).splitlines()
    assert lines[0] == "<Figure size 650x450 with 2 Axes>"
    assert lines[1].startswith("axes 1: GloVe vectors in 2-D | first principal component; x [")
    assert lines[2] == "  scatter 4 points: x mean 1.5 sd 1.118 [0, 3]; y mean 1.5 sd 1.118 [0, 3]"
    assert lines[3] == "  texts 1: king"
    assert "  bars 2: heights 3, 1; widths mean 0.8 sd 0 [0.8, 0.8]" in lines
    assert "  line 2 points: x mean 0.5 sd 0.5 [0, 1]; y mean 1.5 sd 1 [0.5, 2.5]" in lines
    assert lines[-1].startswith("data digest ")
    plt.close("all")


def test_the_same_data_give_the_same_text_and_a_moved_point_or_bar_another(points):
    same = summary(scatter(points.copy())) == summary(scatter(points))
    moved = points.copy()
    moved[2] += [0.05, 0.0]                          # one of four points, by 1/60 of the axis: the means hide it
    moved_text = summary(scatter(moved))
    grown = summary(scatter(points, bars=(3.0, 1.1)))
    base = summary(scatter(points))
    assert same and moved_text != base and grown != base
    assert moved_text.splitlines()[-1] != base.splitlines()[-1]      # the digest caught the moved point
    assert summary(scatter(points, title="other")) != base
    plt.close("all")


def test_ipython_sends_the_summary_as_the_figures_text_beside_the_picture(points):
    """As in a kernel: registered when utils is imported, before pyplot loads and the inline backend sets up its
    figure formats (which drops what the per-mimetype formatters hold for figures)."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.core.pylabtools import select_figure_formats
    shell = InteractiveShell.instance()
    register(shell)
    select_figure_formats(shell, {"png"})
    fig = scatter(points)
    data, _ = shell.display_formatter.format(fig)
    assert data["text/plain"] == summary(fig) and data["image/png"]
    plt.close("all")
