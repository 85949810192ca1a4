"""Score classifiers: weighted F1, bootstrap intervals, bootstrap p-values and Holm's correction.

Weighted F1 for many predictions at once, paired bootstrap resamples for intervals, and the p-values of several
comparisons made at once, corrected together."""
import numpy as np


def weighted_f1(y_true, y_pred):
    """The weighted F1 of two-label predictions (0/1) along the last axis: what sklearn's
    `f1_score(average="weighted")` gives, for many rows of predictions at once."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    total = 0
    for label in (0, 1):
        tp = ((y_pred == label) & (y_true == label)).sum(-1)
        fp = ((y_pred == label) & (y_true != label)).sum(-1)
        fn = ((y_pred != label) & (y_true == label)).sum(-1)
        support = (y_true == label).sum(-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            f1 = np.where(tp > 0, 2 * tp / (2 * tp + fp + fn), 0.0)
        total = total + f1 * support
    return total / y_true.shape[-1]


def bootstrap_f1(y_true, predictions, n_resamples=1000, seed=42):
    """Weighted F1 of each of `predictions` (arrays of 0/1 for the same rows as `y_true`) on `n_resamples` seeded
    resamples of the rows drawn with replacement, the same draws for every prediction (so that differences are
    paired): an array n_resamples x len(predictions). Percentiles 2.5 and 97.5 of a column give its 95% interval."""
    y_true = np.asarray(y_true)
    draws = np.random.default_rng(seed).integers(0, len(y_true), size=(n_resamples, len(y_true)))
    return np.stack([weighted_f1(y_true[draws], np.asarray(pred)[draws]) for pred in predictions], axis=1)


def bootstrap_p(differences):
    """The two-sided bootstrap p-value of "no difference" from resampled differences (one per resample, such as
    the F1 of one method minus another's on the same draws): twice the smaller share of resamples on either side
    of zero, counting the observed sample as one more resample (so it is never 0), at most 1."""
    differences = np.asarray(differences, dtype=float)
    if differences.ndim != 1 or len(differences) == 0:
        raise ValueError("bootstrap_p takes a non-empty 1-d array of resampled differences")
    n = len(differences)
    below, above = (differences <= 0).sum(), (differences >= 0).sum()
    return min(1.0, 2 * (min(below, above) + 1) / (n + 1))


def holm(p_values, alpha=0.05):
    """Holm's step-down correction of several tests made at once: for each p-value (in the given order) its
    Holm-adjusted p-value and whether the test is rejected at family-wise error `alpha`. The smallest p-value is
    multiplied by the number of tests m, the next by m - 1, and so on, each kept at least as large as the one before;
    a test is rejected when its adjusted p-value is at most `alpha`."""
    p = np.asarray(p_values, dtype=float)
    if p.ndim != 1 or ((p < 0) | (p > 1)).any():
        raise ValueError("holm takes a 1-d list of p-values between 0 and 1")
    m = len(p)
    order = np.argsort(p, kind="stable")
    adjusted_sorted = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * p[order]))
    adjusted = np.empty(m)
    adjusted[order] = adjusted_sorted
    return adjusted, adjusted <= alpha
