"""Full MNIST: the serif score of a 1, the evaluator's predictive entropy, and the
10-class Inception-style score — the measurements behind the paper's second and third
claims (AC-GAN draws no serifed 1s; it avoids the boundary; it can score above the data).
"""
from __future__ import annotations

import numpy as np

from .evaluate import inception_score, relative_frequency

SERIF_THRESHOLD = 3.0          # a row at the top or foot ≥ 3× as wide as the stem
ENTROPY_THRESHOLD = 0.5        # nats: "near a decision boundary" for the 10-way evaluator
ENTROPY_BINS = np.linspace(0.0, np.log(10), 31)
INK = 127


def serif_score(image: np.ndarray) -> float:
    """How far ink extends sideways from the top or the foot of a 1's stem.

    Binarize at mid-grey; per row of the ink's bounding box count the ink pixels (a
    slanted stroke keeps its horizontal width, so slant alone scores ~1).  The stem's
    width is the median count of the middle rows (30–70% of the height); the score is the
    widest row in the top 45% or the bottom 25%, divided by the stem's width.  A plain
    stem scores about 1; a flag at the top or a foot at the bottom scores ≥ 3.
    """
    ink = np.asarray(image) > INK
    rows = np.nonzero(ink.any(1))[0]
    if len(rows) < 5:
        return 0.0
    counts = ink.sum(1)[rows[0]:rows[-1] + 1].astype(np.float64)
    h = len(counts)
    middle = counts[int(0.3 * h):max(int(0.7 * h), int(0.3 * h) + 1)]
    ends = np.concatenate([counts[:int(np.ceil(0.45 * h))], counts[int(0.75 * h):]])
    return float(ends.max() / max(np.median(middle), 1.0))


def serif_scores(images: np.ndarray) -> np.ndarray:
    return np.array([serif_score(im) for im in images])


def predictive_entropy(probs: np.ndarray) -> np.ndarray:
    """H(p(y|x)) in nats for each row of class probabilities."""
    p = np.asarray(probs, dtype=np.float64)
    return -np.sum(np.where(p > 0, p * np.log(np.clip(p, 1e-300, None)), 0.0), axis=1)


def wilson_interval(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval of a binomial proportion k/n."""
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return float(centre - half), float(centre + half)


def entropy_summary(probs: np.ndarray) -> dict:
    h = predictive_entropy(probs)
    counts, _ = np.histogram(h, bins=ENTROPY_BINS)
    return {"mean": float(h.mean()), "share_above": float(np.mean(h > ENTROPY_THRESHOLD)),
            "histogram": counts.tolist()}


def ones_summary(images: np.ndarray, digits: np.ndarray, keep: int = 200) -> dict:
    """Serif statistics of the images labelled 1, and the first `keep` of them."""
    ones = images[digits == 1]
    scores = serif_scores(ones)
    k, n = int(np.sum(scores >= SERIF_THRESHOLD)), len(ones)
    lo, hi = wilson_interval(k, n)
    return {"n_ones": n, "n_serifed": k, "serif_share": k / n if n else None,
            "serif_lo": lo, "serif_hi": hi, "first_ones": ones[:keep],
            "first_scores": scores[:keep]}


def full_metrics(images: np.ndarray, probs: np.ndarray, is_samples: int = 10_000) -> dict:
    """Everything measured on a set of full-MNIST images, from the evaluator's probabilities."""
    digits = probs.argmax(1)
    score, score_std = inception_score(probs[:is_samples], splits=10)
    ones = ones_summary(images, digits)
    return {
        "class_frequency": relative_frequency(digits, list(range(10))),
        "entropy": entropy_summary(probs[:is_samples]),
        "score_10class": score, "score_10class_std": score_std,
        **{k: v for k, v in ones.items() if not k.startswith("first_")},
        "_first_ones": ones["first_ones"], "_first_scores": ones["first_scores"],
    }
