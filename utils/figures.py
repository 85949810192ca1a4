"""What a figure shows, as text: the replays compare it, so a change that moves a figure's data fails them.

nbval does not compare pictures (a PNG differs with every font and library version), but it compares the text/plain
twin that a kernel sends beside each figure, which is `<Figure size 650x450 with 1 Axes>` unless told otherwise.
`register()` (called when a kernel imports utils) makes it a short summary of the data drawn instead: per axes its
title, axis labels and limits, and per artist what it plots, rounded to 4 significant digits (scatter points and
lines: count, mean, spread and range of x and y; bars: their heights; images: shape and value range; texts: the words
written), plus a digest of every drawn coordinate on a grid of 1/1000 of the axes' range, so that one point moved
visibly changes it. A reader never sees it: Jupyter and Colab show the picture, the richer of the two."""
import hashlib

import numpy as np

KINDS = {"PathCollection": "scatter", "LineCollection": "line segments", "PolyCollection": "polygons",
         "QuadMesh": "mesh"}


def _g(value):
    """4 significant digits, no negative zero."""
    return f"{float(value) + 0.0:.4g}"


def _stats(name, values):
    values = np.asarray(values, dtype=float).ravel()
    values = values[np.isfinite(values)]
    if not len(values):
        return f"{name} -"
    return f"{name} mean {_g(values.mean())} sd {_g(values.std())} [{_g(values.min())}, {_g(values.max())}]"


def _grid(values, low, high):
    """`values` on a grid of 1/1000 of [low, high] (the axis' shown range), as integers for the digest."""
    span = (high - low) or 1.0
    return np.round((np.asarray(values, dtype=float) - low) / span * 1000).astype(np.int64)


def _artists(ax, digest):
    """One line per kind of artist that draws data on `ax`; feeds every coordinate, on the grid, into `digest`."""
    from matplotlib.collections import Collection
    from matplotlib.image import AxesImage
    from matplotlib.patches import Rectangle

    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    lines = []
    for line in ax.lines:
        xy = np.asarray(line.get_xydata(), dtype=float).reshape(-1, 2)
        digest.update(_grid(xy[:, 0], x0, x1).tobytes() + _grid(xy[:, 1], y0, y1).tobytes())
        lines.append(f"  line {len(xy)} points: {_stats('x', xy[:, 0])}; {_stats('y', xy[:, 1])}")
    for collection in ax.collections:
        if not isinstance(collection, Collection):
            continue
        offsets = np.asarray(collection.get_offsets(), dtype=float).reshape(-1, 2)
        values = collection.get_array()
        kind = KINDS.get(type(collection).__name__, type(collection).__name__)
        if len(offsets) > 1 or (len(offsets) == 1 and offsets.any()):
            digest.update(_grid(offsets[:, 0], x0, x1).tobytes() + _grid(offsets[:, 1], y0, y1).tobytes())
            lines.append(f"  {kind} {len(offsets)} points: {_stats('x', offsets[:, 0])}; {_stats('y', offsets[:, 1])}"
                         + (f"; {_stats('colour values', values)}" if values is not None else ""))
        else:
            paths = collection.get_paths()
            vertices = [p.vertices for p in paths if len(p.vertices)]
            if vertices:
                xy = np.concatenate(vertices)
                digest.update(_grid(xy[:, 0], x0, x1).tobytes() + _grid(xy[:, 1], y0, y1).tobytes())
            lines.append(f"  {kind} {len(paths)} shapes" + (f": {_stats('colour values', values)}"
                                                              if values is not None else ""))
    bars = [p for p in ax.patches if isinstance(p, Rectangle)]
    if bars:
        heights, widths = [b.get_height() for b in bars], [b.get_width() for b in bars]
        digest.update(_grid(heights, y0, y1).tobytes() + _grid(widths, x0, x1).tobytes())
        shown = ", ".join(_g(h) for h in heights[:12]) + (", …" if len(bars) > 12 else "")
        lines.append(f"  bars {len(bars)}: heights {shown}; widths {_stats('', widths).strip()}")
    for image in ax.images:
        if isinstance(image, AxesImage):
            data = np.asarray(image.get_array(), dtype=float)
            digest.update(np.round(data * 1000).astype(np.int64).tobytes())
            lines.append(f"  image {'x'.join(map(str, data.shape))}: {_stats('values', data)}")
    words = [t.get_text() for t in ax.texts if t.get_text().strip()]
    if words:
        text = ", ".join(words)
        lines.append(f"  texts {len(words)}: {text[:160] + ('…' if len(text) > 160 else '')}")
    return lines


def summary(fig):
    """The text a replay compares for `fig`: its size, and per axes its labels, limits and data (see above)."""
    digest = hashlib.sha256()
    width, height = fig.get_size_inches() * fig.dpi
    out = [f"<Figure size {_g(width)}x{_g(height)} with {len(fig.axes)} Axes>"]
    for number, ax in enumerate(fig.axes, 1):
        labels = " | ".join(filter(None, (ax.get_title(), ax.get_xlabel(), ax.get_ylabel())))
        (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
        out.append(f"axes {number}: {labels or '(no labels)'}; x [{_g(x0)}, {_g(x1)}], y [{_g(y0)}, {_g(y1)}]")
        out += _artists(ax, digest)
    out.append(f"data digest {digest.hexdigest()[:12]} (every drawn coordinate on a 1/1000 grid of its axes)")
    return "\n".join(out)


def register(shell=None):
    """In an IPython kernel, make each matplotlib figure's text/plain the summary above (matplotlib itself need not
    be imported yet). Nothing happens outside a kernel. It goes through the mimebundle formatter: the inline backend,
    when pyplot loads, removes what the per-mimetype formatters hold for figures, but keeps this one."""
    if shell is None:
        from IPython import get_ipython
        shell = get_ipython()
    if shell is None or not hasattr(shell, "display_formatter"):
        return
    shell.display_formatter.mimebundle_formatter.for_type_by_name(
        "matplotlib.figure", "Figure", lambda fig, include=None, exclude=None: {"text/plain": summary(fig)})
