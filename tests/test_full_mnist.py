"""Full MNIST measurements: the serif score, entropy, the 10-class score, intervals."""
import json

import numpy as np
import pytest

from repro.evaluate import inception_score
from repro.full_mnist import (SERIF_THRESHOLD, predictive_entropy, serif_score,
                              wilson_interval)


def _stem(width=3, top=4, bottom=24, left=13):
    img = np.zeros((28, 28), np.uint8)
    img[top:bottom, left:left + width] = 255
    return img


def test_plain_stem_scores_low():
    assert serif_score(_stem()) == pytest.approx(1.0)
    slanted = np.zeros((28, 28), np.uint8)
    for r in range(4, 24):                       # a slanted stroke keeps its row width
        c = 8 + (r - 4) // 2
        slanted[r, c:c + 3] = 255
    assert serif_score(slanted) < 1.5


def test_top_flag_and_foot_score_high():
    img = _stem()
    for i in range(6):                           # a flag leaning down-left from the top
        img[4 + i, 13 - 6 + i:13] = 255
    img[22:24, 9:20] = 255                        # a foot
    assert serif_score(img) >= SERIF_THRESHOLD
    foot_only = _stem()
    foot_only[22:24, 9:20] = 255
    assert serif_score(foot_only) >= SERIF_THRESHOLD
    flag_only = _stem()
    for i in range(6):
        flag_only[4 + i, 13 - 7 + i:13] = 255
    assert serif_score(flag_only) >= SERIF_THRESHOLD


def test_blank_image_scores_zero():
    assert serif_score(np.zeros((28, 28), np.uint8)) == 0.0


def test_entropy_of_one_hot_and_uniform():
    assert predictive_entropy(np.eye(10)).tolist() == [0.0] * 10
    assert predictive_entropy(np.full((3, 10), 0.1)) == pytest.approx([np.log(10)] * 3)


def test_ten_class_score_on_constructed_tables():
    confident = np.eye(10)[np.arange(10_000) % 10]
    mean, std = inception_score(confident, splits=10)
    assert mean == pytest.approx(10.0, rel=1e-6) and std < 1e-6
    # half the mass on two classes, confidently: score 2
    two = np.eye(10)[np.arange(1000) % 2]
    assert inception_score(two)[0] == pytest.approx(2.0, rel=1e-6)
    # an uncertain sample set scores lower than a confident one over the same classes
    soft = 0.5 * confident + 0.05
    assert inception_score(soft)[0] < inception_score(confident)[0]


def test_wilson_interval():
    lo, hi = wilson_interval(0, 2000)
    assert lo == pytest.approx(0.0, abs=1e-12) and 0 < hi < 0.003
    lo, hi = wilson_interval(50, 100)
    assert lo < 0.5 < hi and hi - lo == pytest.approx(0.19, abs=0.01)


def test_full_mnist_smoke_pipeline(smoke_artifacts):
    pdir, _ = smoke_artifacts
    summary = json.loads((pdir / "summary.json").read_text())
    full = [g for g in summary["groups"] if g["experiment"] == "full"]
    assert {(g["variant"], g["lam"]) for g in full} == {("gan", 0), ("acgan", 2), ("tacgan", 2)}
    for g in full:
        assert len(g["entropy_histogram"]) == 30
        assert abs(sum(f["mean"] for f in g["class_frequency"].values()) - 1) < 1e-6
    ref = summary["reference"]["full"]
    assert ref["train_ones"]["n_ones"] == 6742
    for name in ("serif_validation", "ones_real_vs_models", "entropy_histogram",
                 "class_frequency_full"):
        assert (pdir / "figures" / f"{name}.pdf").exists()
