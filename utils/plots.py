"""Figures the chapters share: word labels by their points, and interactive figures kept out of the recordings.

The labels are placed by adjustText (https://github.com/Phlya/adjustText); chapter 5 draws its static views of
BERTopic's figures itself, from the topic model's own numbers."""


def label_points(ax, points, fontsize=9):
    """Write each word of `points` ({word: (x, y)}) at its point, then let adjustText move the labels apart until
    they cover no other label and no marker drawn on `ax` so far (draw the points first), inside the axes; a label
    moved more than a few pixels gets a thin grey line back to its point. Returns the labels (matplotlib Text objects)."""
    from adjustText import adjust_text, get_bboxes_pathcollection
    from matplotlib.collections import PathCollection

    ax.figure.canvas.draw()                           # fixes the axes' limits, so that markers have a size in data
    markers = [box for c in ax.collections if isinstance(c, PathCollection) for box in get_bboxes_pathcollection(c, ax)]
    if not markers:
        raise ValueError("label_points keeps labels off the markers on the axes: draw the points (ax.scatter) first")
    texts = [ax.text(x, y, word, fontsize=fontsize) for word, (x, y) in points.items()]
    # markers push harder than adjustText's defaults, labels may move any distance and are pulled back to their
    # points only weakly; a fixed number of steps (not adjustText's default of 1 s) places them alike on any machine
    adjust_text(texts, objects=markers, ax=ax, expand=(1.2, 1.4), force_static=(0.5, 1.0), force_pull=(0.001, 0.001),
                max_move=None, iter_lim=500, arrowprops=dict(arrowstyle="-", color="0.45", linewidth=0.6))
    return texts


def show_interactive(fig, path):
    """A plotly figure: shown below the cell for a reader in JupyterLab or Colab; in a headless run (the runner,
    `make record`, nbval) written to `path` as an HTML file that loads plotly.js from one copy beside it
    (plotly.min.js, shared by every figure in that folder), and the file named, so that recordings carry no
    multi-MB figure data."""
    from .notebook import headless
    from .paths import shown
    if not headless():
        fig.show()
        return
    fig.write_html(path, include_plotlyjs="directory")
    print(f"[figure] {shown(path)} (open it in a browser, with plotly.min.js beside it; {len(fig.data)} traces)")
