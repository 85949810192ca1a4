import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from utils.plots import label_points  # noqa: E402


def boxes(ax):
    renderer = ax.figure.canvas.get_renderer()
    return [text.get_window_extent(renderer) for text in ax.texts]


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


def test_without_placement_the_same_labels_would_overlap():      # the baseline the test above is measured against
    fig, ax = plt.subplots(figsize=(4, 3))
    for word, xy in {"mango": (0.0, 0.0), "banana": (0.02, 0.01)}.items():
        ax.annotate(word, xy, xytext=(5, 4), textcoords="offset points", fontsize=9)
    ax.set_xlim(-0.1, 1.1)
    ax.set_ylim(-0.1, 1.1)
    fig.canvas.draw()
    first, second = boxes(ax)
    assert first.overlaps(second)
    plt.close(fig)
