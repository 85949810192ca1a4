"""Figures shared by the chapters: word labels beside points that do not overlap each other, and interactive
plotly figures that stay out of the recordings."""

OFFSETS = [(5, 4), (5, -11), (-5, 4), (-5, -11), (5, 14), (-5, -21), (5, -21), (-5, 14), (12, -3), (-12, -3)]


def label_points(ax, points, fontsize=9):
    """Write each word of `points` ({word: (x, y)}) beside its point at the first offset of OFFSETS (in points)
    where it overlaps no label placed before it; where every offset is taken, at the first one."""
    ax.figure.canvas.draw()                               # fixes the axes' limits and the text renderer
    renderer, placed = ax.figure.canvas.get_renderer(), []
    for word, xy in points.items():
        for attempt, (dx, dy) in enumerate(OFFSETS + OFFSETS[:1]):
            text = ax.annotate(word, xy, xytext=(dx, dy), textcoords="offset points", fontsize=fontsize,
                               ha="left" if dx > 0 else "right")
            box = text.get_window_extent(renderer)
            if attempt == len(OFFSETS) or not any(box.overlaps(other) for other in placed):
                break
            text.remove()
        placed.append(box)


def show_interactive(fig, path):
    """A plotly figure: shown below the cell for a reader in JupyterLab or Colab; in a headless run (the runner,
    `make record`, nbval) written to `path` as a self-contained HTML file instead, and the file named, so that
    recordings carry no multi-MB figure data."""
    from pathlib import Path

    from .run import ROOT, headless
    if not headless():
        fig.show()
        return
    path = Path(path)
    fig.write_html(path, include_plotlyjs=True)
    print(f"[figure] {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name} "
          f"(open it in a browser; {len(fig.data)} traces)")
