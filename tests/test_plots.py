import math

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.text import Text  # noqa: E402
from matplotlib.transforms import Bbox  # noqa: E402

from utils.plots import label_points  # noqa: E402

# chapter 1's crowded corner (animals and fruit close together after PCA) and a few far points that set the scale
CROWDED = {"cat": (-1.2, -0.42), "dog": (-0.5, -0.72), "puppy": (-1.85, -1.45), "kitten": (-1.5, -1.3),
           "apple": (-1.3, -1.5), "banana": (-1.7, -1.25), "mango": (-2.45, -1.65), "king": (-0.5, 3.9),
           "queen": (-0.48, 3.4), "prince": (0.3, 4.0), "car": (3.8, -0.8), "truck": (3.6, -1.75),
           "bus": (3.85, -0.45)}


def boxes(ax):
    """The labels' text boxes alone (an annotation's own window extent includes its leader line)."""
    ax.figure.canvas.draw()
    renderer = ax.figure.canvas.get_renderer()
    return [Text.get_window_extent(text, renderer) for text in ax.texts]


def markers(ax, points, size=36):
    """Each point's marker box in pixels, worked out here from the scatter's default marker size (points²)."""
    ax.figure.canvas.draw()                      # fixes the axes' limits, so that data maps to pixels
    radius = math.sqrt(size) / 2 * ax.figure.dpi / 72
    return {word: Bbox.from_extents(*(ax.transData.transform(xy) - radius), *(ax.transData.transform(xy) + radius))
            for word, xy in points.items()}


def distance(box, xy):
    x, y = xy
    return math.hypot(max(box.x0 - x, 0, x - box.x1), max(box.y0 - y, 0, y - box.y1))


def scatter(points):
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    ax.scatter(*zip(*points.values()))
    return fig, ax


def test_labels_of_crowded_points_do_not_overlap():
    fig, ax = plt.subplots(figsize=(4, 3))
    points = {"mango": (0.0, 0.0), "banana": (0.02, 0.01), "apple": (0.01, -0.02), "kitten": (0.03, 0.0),
              "far": (1.0, 1.0)}
    ax.scatter(*zip(*points.values()))
    label_points(ax, points)
    placed = boxes(ax)
    assert [t.get_text() for t in ax.texts] == list(points)
    assert not any(a.overlaps(b) for i, a in enumerate(placed) for b in placed[i + 1:])
    plt.close(fig)


def test_labels_cover_no_marker_and_lead_back_to_their_point():
    fig, ax = scatter(CROWDED)
    texts = label_points(ax, CROWDED)
    placed = dict(zip([t.get_text() for t in texts], boxes(ax)))
    dots = markers(ax, CROWDED)
    assert list(placed) == list(CROWDED)
    assert [(word, other) for word, box in placed.items() for other, dot in dots.items() if box.overlaps(dot)] == []
    assert [(a, b) for a in placed for b in placed if a < b and placed[a].overlaps(placed[b])] == []
    frame = ax.get_window_extent()
    assert all(frame.x0 <= b.x0 and b.x1 <= frame.x1 and frame.y0 <= b.y0 and b.y1 <= frame.y1
               for b in placed.values())
    centres = {word: ax.transData.transform(xy) for word, xy in CROWDED.items()}
    leaders = {}
    for patch in ax.patches:                     # adjustText's leader lines: from a label (patchA) to a point
        end = ax.transData.transform(patch.get_path().vertices[-1])
        leaders[patch.patchA.get_text()] = min(centres, key=lambda word: math.dist(end, centres[word]))
    for text in texts:
        word, box = text.get_text(), placed[text.get_text()]
        nearest = min(centres, key=lambda other: distance(box, centres[other]))
        if nearest != word:                      # read as another point's label, unless a line leads to its own
            assert leaders.get(word) == word, f"{word!r} is read as {nearest!r}'s label"
    assert all(leaders[word] == word for word in leaders)
    assert leaders, "the crowded corner should need at least one leader line"
    plt.close(fig)


def test_labels_land_in_the_same_places_every_time():   # a fixed number of steps, not a time limit
    placements = []
    for _ in range(2):
        fig, ax = scatter(CROWDED)
        placements.append([text.get_position() for text in label_points(ax, CROWDED)])
        plt.close(fig)
    assert placements[0] == placements[1]


def test_labels_need_the_points_drawn_first():
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match=r"draw the points \(ax.scatter\) first"):
        label_points(ax, {"cat": (0, 0)})
    plt.close(fig)


def test_without_placement_labels_would_cover_other_markers():   # the baseline the test above is measured against
    fig, ax = scatter(CROWDED)
    for word, xy in CROWDED.items():
        ax.annotate(word, xy, xytext=(5, 4), textcoords="offset points", fontsize=9)
    dots = markers(ax, CROWDED)
    covered = [(t.get_text(), other) for t, box in zip(ax.texts, boxes(ax)) for other, dot in dots.items()
               if other != t.get_text() and box.overlaps(dot)]
    assert covered                               # e.g. "puppy" over the kitten's marker
    plt.close(fig)


def test_without_placement_the_same_labels_would_overlap():      # the baseline of the label-on-label test
    fig, ax = plt.subplots(figsize=(4, 3))
    for word, xy in {"mango": (0.0, 0.0), "banana": (0.02, 0.01)}.items():
        ax.annotate(word, xy, xytext=(5, 4), textcoords="offset points", fontsize=9)
    ax.set_xlim(-0.1, 1.1)
    ax.set_ylim(-0.1, 1.1)
    first, second = boxes(ax)
    assert first.overlaps(second)
    plt.close(fig)
