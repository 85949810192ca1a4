"""Figures the chapters share: labelled points, interactive figures.

Word labels beside their points that cover neither each other nor any point's marker, and interactive plotly figures
that stay out of the recordings."""

import math

# where a label may go, in points from its point: first close beside it (OFFSETS, no line needed), then further out
# on rings around it (FAR_RADII, 16 directions each, those pointing away from the neighbouring markers first), where a
# thin leader line ties the label to its point
OFFSETS = [(5, 4), (5, -11), (-5, 4), (-5, -11), (5, 14), (-5, -21), (5, -21), (-5, 14), (12, -3), (-12, -3)]
FAR_RADII = (18, 28, 40, 54)
PAD = 1.0                                             # pixels kept free around every label
NEARER = 2.0                                          # a label without a line: every other marker this many times
                                                      # as far from it as its own point
CLEAR = 10                                            # pixels: a moved label keeps this far from other markers
NEIGHBOURHOOD = 80                                    # pixels: the markers that push a moved label away


def marker_boxes(ax):
    """The display-space boxes of every marker drawn on `ax` so far: scatter points (collections) and the markers of
    plotted lines."""
    from matplotlib.collections import PathCollection
    from matplotlib.transforms import Bbox

    pixels_per_point = ax.figure.dpi / 72
    boxes = []
    for collection in ax.collections:
        if not isinstance(collection, PathCollection) or not len(collection.get_offsets()):
            continue
        centres = collection.get_offset_transform().transform(collection.get_offsets())
        sizes = collection.get_sizes() if len(collection.get_sizes()) else [36.0]
        edges = collection.get_linewidths() if len(collection.get_linewidths()) else [0.0]
        for i, (x, y) in enumerate(centres):
            radius = (math.sqrt(sizes[i % len(sizes)]) / 2 + edges[i % len(edges)] / 2) * pixels_per_point
            boxes.append(Bbox.from_extents(x - radius, y - radius, x + radius, y + radius))
    for line in ax.lines:
        if line.get_marker() in (None, "", "None", " "):
            continue
        radius = (line.get_markersize() / 2 + line.get_markeredgewidth() / 2) * pixels_per_point
        for x, y in line.get_transform().transform(line.get_xydata()):
            boxes.append(Bbox.from_extents(x - radius, y - radius, x + radius, y + radius))
    return boxes


def text_box(text, renderer):
    """The box of an annotation's text alone (Annotation.get_window_extent adds its leader line)."""
    from matplotlib.text import Text

    text.update_positions(renderer)                   # an annotation finds its place only when drawn
    return Text.get_window_extent(text, renderer).padded(PAD)


def _overlap(a, b):
    return max(0.0, min(a.x1, b.x1) - max(a.x0, b.x0)) * max(0.0, min(a.y1, b.y1) - max(a.y0, b.y0))


def _distance(box, x, y):
    return math.hypot(max(box.x0 - x, 0.0, x - box.x1), max(box.y0 - y, 0.0, y - box.y1))


def _segment_hits_box(p, q, box):
    """Whether the segment p-q passes through `box` (Liang-Barsky clipping)."""
    (x0, y0), (dx, dy) = p, (q[0] - p[0], q[1] - p[1])
    low, high = 0.0, 1.0
    for step, room in ((-dx, x0 - box.x0), (dx, box.x1 - x0), (-dy, y0 - box.y0), (dy, box.y1 - y0)):
        if step == 0:
            if room < 0:
                return False
        elif step < 0:
            low = max(low, room / step)
        else:
            high = min(high, room / step)
        if low > high:
            return False
    return True


def _segments_cross(p, q, r, s):
    def side(a, b, c):
        return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
    return side(p, q, r) * side(p, q, s) < 0 and side(r, s, p) * side(r, s, q) < 0


def _far_offsets(x, y, centres):
    """FAR_RADII's rings around (x, y), each ring's directions sorted from the one pointing away from the markers
    within NEIGHBOURHOOD pixels."""
    push = [0.0, 0.0]
    for cx, cy in centres:
        gap = math.hypot(x - cx, y - cy)
        if 0 < gap < NEIGHBOURHOOD:
            push[0] += (x - cx) / gap ** 2
            push[1] += (y - cy) / gap ** 2
    away = math.degrees(math.atan2(push[1], push[0])) if any(push) else 45.0
    angles = sorted(range(0, 360, 360 // 16), key=lambda a: (abs((a - away + 180) % 360 - 180), a))
    return [(round(r * math.cos(math.radians(a))), round(r * math.sin(math.radians(a))))
            for r in FAR_RADII for a in angles]


def _alignment(dx, dy, far):
    if not far:                                       # beside the point: the text's baseline at the offset
        return ("left" if dx > 0 else "right"), "baseline"
    return (("left" if dx > 2 else "right" if dx < -2 else "center"),
            ("bottom" if dy > 2 else "top" if dy < -2 else "center"))


def label_points(ax, points, fontsize=9):
    """Write each word of `points` ({word: (x, y)}) next to its point, at the first place that covers no marker on
    `ax` (draw the points first), no label or leader line placed before it and nothing outside the axes. Right
    beside the point (OFFSETS) a label must also be NEARER times nearer its own point than any other marker, so
    that it is read as that point's. Where no such place is free, the label goes further out, at least CLEAR
    pixels from other markers, with a thin leader line to its point that passes through no other marker or
    label. Where no place is free at all, the label goes where it covers least."""
    ax.figure.canvas.draw()                           # fixes the axes' limits and the text renderer
    renderer = ax.figure.canvas.get_renderer()
    markers, frame = marker_boxes(ax), ax.get_window_extent(renderer)
    centres = [((m.x0 + m.x1) / 2, (m.y0 + m.y1) / 2) for m in markers]
    labels, leaders = [], []
    for word, xy in points.items():
        x, y = ax.transData.transform(xy)
        own = [i for i, (cx, cy) in enumerate(centres) if math.hypot(cx - x, cy - y) <= 0.5]
        others = [m for i, m in enumerate(markers) if i not in own]
        candidates = [(offset, False) for offset in OFFSETS] + [(o, True) for o in _far_offsets(x, y, centres)]
        best = None
        for (dx, dy), far in candidates:
            ha, va = _alignment(dx, dy, far)
            text = ax.annotate(word, xy, xytext=(dx, dy), textcoords="offset points", fontsize=fontsize, ha=ha,
                               va=va)
            box = text_box(text, renderer)
            text.remove()
            cost = (box.width * box.height - _overlap(box, frame)
                    + sum(_overlap(box, other) for other in markers + labels))
            cost += 0.5 * sum(_segment_hits_box(p, q, box) for p, q in leaders)
            if far:                                   # the leader line, from the label's centre to the point
                line = ((box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2), (x, y)
                cost += 0.5 * (sum(_segment_hits_box(*line, other) for other in others + labels)
                               + sum(_segments_cross(*line, *leader) for leader in leaders)
                               + sum(_distance(box, *centres[i]) < CLEAR for i in range(len(markers))
                                     if i not in own))
            elif any(_distance(box, *centres[i]) < NEARER * _distance(box, x, y)
                     for i in range(len(markers)) if i not in own):
                cost += 1.0                           # free, but too near another point: a place of last resort
            if best is None or cost < best[0]:
                best = (cost, (dx, dy), far, ha, va, box)
            if cost == 0:
                break
        _, offset, far, ha, va, box = best
        leader = dict(arrowstyle="-", color="0.45", linewidth=0.6, shrinkA=0, shrinkB=3) if far else None
        ax.annotate(word, xy, xytext=offset, textcoords="offset points", fontsize=fontsize, ha=ha, va=va,
                    arrowprops=leader)
        labels.append(box)
        if far:
            leaders.append((((box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2), (x, y)))


def show_interactive(fig, path):
    """A plotly figure: shown below the cell for a reader in JupyterLab or Colab; in a headless run (the runner,
    `make record`, nbval) written to `path` as a self-contained HTML file instead, and the file named, so that
    recordings carry no multi-MB figure data."""
    from .notebook import headless
    from .paths import shown
    if not headless():
        fig.show()
        return
    fig.write_html(path, include_plotlyjs=True)
    print(f"[figure] {shown(path)} (open it in a browser; {len(fig.data)} traces)")
