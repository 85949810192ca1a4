"""Figures the chapters share: labelled points, interactive figures.

Word labels beside their points that cover neither each other nor any point's marker, and interactive plotly figures
that stay out of the recordings."""

import math
import re

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


def _color(value):
    """A plotly colour as matplotlib takes it: "rgb(r, g, b)" and "rgba(r, g, b, a)" become tuples, others pass."""
    if isinstance(value, str) and value.startswith("rgb"):
        numbers = [float(v) for v in value[value.index("(") + 1:value.rindex(")")].split(",")]
        return tuple(v / 255 for v in numbers[:3]) + tuple(numbers[3:])
    return value


def _array(data):
    """A plotly array as numpy; plotly keeps numeric arrays as typed-array specs ({"dtype", "bdata", "shape"})."""
    import base64

    import numpy as np
    if isinstance(data, dict) and "bdata" in data:
        array = np.frombuffer(base64.b64decode(data["bdata"]), dtype=data["dtype"])
        return array.reshape([int(n) for n in str(data["shape"]).split(",")]) if "shape" in data else array
    return np.asarray(data)


def _plain(text):
    """A plotly title or label without its HTML tags."""
    return re.sub(r"<[^>]+>", "", text or "")


def static_copy(fig, width=900):
    """A matplotlib drawing of a plotly figure's own data, where there is no browser (plotly's image export needs
    one): scatter markers, lines and texts, bars and heatmaps, each on its subplot's domain, with the layout's
    titles, axis titles, tick labels, line shapes, annotations and legend; at most `width` pixels wide. What needs a
    browser (hover texts, zooming) is left out."""
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.colors import LinearSegmentedColormap

    layout = fig.layout
    w, h = layout.width or 700, layout.height or 450
    scale = min(1.0, width / w)

    def size(px):                                     # plotly's pixels as matplotlib's points at 100 dpi
        return px * 0.72 * scale
    figure = plt.figure(figsize=(w * scale / 100, h * scale / 100), dpi=100)
    margin = {side: getattr(layout.margin, side) for side in "lrtb"}
    margin = {side: (80 if side != "t" else 100) if px is None else px for side, px in margin.items()}
    area = (margin["l"] / w, margin["b"] / h, 1 - (margin["l"] + margin["r"]) / w, 1 - (margin["t"] + margin["b"]) / h)

    def paper(x, y):                                  # the figure's fraction at plotly's paper coordinates
        return area[0] + x * area[2], area[1] + y * area[3]
    colorway = layout.template.layout.colorway or ("#636efa",)
    axes = {}

    def axes_for(trace):
        names = (getattr(trace, "xaxis", None) or "x", getattr(trace, "yaxis", None) or "y")
        if names not in axes:
            xaxis, yaxis = (layout[name[0] + "axis" + name[1:]] for name in names)
            (x0, x1), (y0, y1) = xaxis.domain or (0, 1), yaxis.domain or (0, 1)
            ax = figure.add_axes((*paper(x0, y0), (x1 - x0) * area[2], (y1 - y0) * area[3]))
            ax.tick_params(labelsize=size(12))
            if layout.plot_bgcolor:
                ax.set_facecolor(_color(layout.plot_bgcolor))
            axes[names] = ax, xaxis, yaxis
        return axes[names][0]

    for i, trace in enumerate(fig.data):
        if trace.type not in ("scatter", "scattergl", "bar", "heatmap"):
            raise ValueError(f"static_copy draws scatter, bar and heatmap traces, not {trace.type!r}")
        ax, default = axes_for(trace), colorway[i % len(colorway)]
        marker = getattr(trace, "marker", None)
        color = _color(marker.color) if marker is not None and isinstance(marker.color, str) else default
        if trace.type in ("scatter", "scattergl"):
            x, y, mode = _array(trace.x), _array(trace.y), trace.mode or "lines+markers"
            name = trace.name if trace.name and trace.showlegend is not False else None
            if "lines" in mode:
                ax.plot(x, y, color=_color(trace.line.color) or color, linewidth=size(trace.line.width or 2),
                        label=None if "markers" in mode else name)
            if "markers" in mode:
                colors = _array(marker.color) if marker.color is not None and not isinstance(marker.color, str) \
                    else None
                ax.scatter(x, y, s=np.square(size(_array(marker.size if marker.size is not None else 6))),
                           c=colors, color=None if colors is not None else color, alpha=marker.opacity,
                           linewidths=0, label=name)
            texts = trace.text if "text" in mode and isinstance(trace.text, (list, tuple)) else []
            for xi, yi, text in zip(x, y, texts, strict=False):
                if text:
                    ax.text(xi, yi, _plain(text), fontsize=size(12), ha="center", va="center")
        elif trace.type == "bar":
            x, y = _array(trace.x), _array(trace.y)
            ax.barh(y, x, color=color) if trace.orientation == "h" else ax.bar(x, y, color=color)
        else:
            scale_ = trace.colorscale or layout.coloraxis.colorscale
            cmap = LinearSegmentedColormap.from_list("plotly", [(s, _color(c)) for s, c in scale_]) if scale_ else None
            image = ax.imshow(_array(trace.z).astype(float), cmap=cmap, aspect="auto", origin="lower")
            for labels, set_ticks, rotation in ((trace.x, ax.set_xticks, 90), (trace.y, ax.set_yticks, 0)):
                if labels is not None:
                    set_ticks(range(len(labels)), [_plain(str(label)) for label in labels], rotation=rotation)
            figure.colorbar(image, ax=ax).set_label(_plain(layout.coloraxis.colorbar.title.text), size=size(12))
    for ax, xaxis, yaxis in axes.values():
        for axis, which in ((xaxis, "x"), (yaxis, "y")):
            if axis.title.text:
                getattr(ax, f"set_{which}label")(_plain(axis.title.text), fontsize=size(14))
            if axis.tickvals is not None:
                getattr(ax, f"set_{which}ticks")(axis.tickvals, axis.ticktext or axis.tickvals)
            if axis.range is not None:
                getattr(ax, f"set_{which}lim")(axis.range)
            if axis.autorange == "reversed":
                getattr(ax, f"invert_{which}axis")()
        if xaxis.visible is False and yaxis.visible is False:
            ax.set_axis_off()
        if layout.showlegend is not False and len(ax.get_legend_handles_labels()[1]) > 1:
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=size(11), frameon=False, markerscale=2)
    main = axes_for(fig.data[0]) if fig.data else figure.add_axes(area)
    for shape in layout.shapes:
        if shape.type == "line":
            main.plot([shape.x0, shape.x1], [shape.y0, shape.y1], color=_color(shape.line.color),
                      linewidth=size(shape.line.width or 2))
    for note in layout.annotations:
        align = {"ha": {"left": "left", "right": "right"}.get(note.xanchor, "center"),
                 "va": {"top": "top", "bottom": "bottom"}.get(note.yanchor, "center"),
                 "fontsize": size(note.font.size or 12)}
        if note.xref == "paper" and note.yref == "paper":
            figure.text(*paper(note.x, note.y), _plain(note.text), **align)
        else:
            main.text(note.x, note.y, _plain(note.text), **align)
    if layout.title.text:
        figure.suptitle(_plain(layout.title.text), fontsize=size((layout.title.font.size or 17)))
    return figure


def show_interactive(fig, path):
    """A plotly figure: shown below the cell for a reader in JupyterLab or Colab; in a headless run (the runner,
    `make record`, nbval) written to `path` as an HTML file that loads plotly.js from one copy beside it
    (plotly.min.js, shared by every figure in that folder), the file named, and a static drawing of the same data
    (`static_copy`) shown instead, so that recordings carry no multi-MB figure data."""
    from .notebook import headless
    from .paths import shown
    if not headless():
        fig.show()
        return
    import matplotlib.pyplot as plt
    fig.write_html(path, include_plotlyjs="directory")
    print(f"[figure] {shown(path)} (open it in a browser, with plotly.min.js beside it; {len(fig.data)} traces); "
          f"below, the same data drawn with matplotlib, without the hover texts")
    static_copy(fig)
    plt.show()
