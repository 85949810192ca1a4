"""Score classifiers: weighted F1 for many predictions at once, and paired bootstrap resamples for intervals."""
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
