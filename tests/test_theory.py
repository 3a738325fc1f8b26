"""The mean-field prediction: its algebra checked against its defining equations."""
import math

import pytest

from repro.theory import predicted_rate, predicted_zero_share, vanishing_lambda

A = 0.483


def test_no_entropy_term_keeps_the_data_share():
    for loss in ("nonsaturating", "minimax"):
        assert predicted_zero_share(0.0, A, loss) == pytest.approx(A)


def test_nonsaturating_solution_satisfies_its_equation():
    for lam in (0.25, 0.5, 1.0, 1.5):
        f = predicted_rate(lam, A)
        g = (1 - A * f) / (1 - A)
        assert math.log((1 + g) / (1 + f)) == pytest.approx(lam * math.log(2))
        assert A * f + (1 - A) * g == pytest.approx(1.0)


def test_zeros_vanish_from_about_1_55_with_the_nonsaturating_loss():
    lam_star = vanishing_lambda(A)
    assert lam_star == pytest.approx(1.553, abs=1e-3)
    assert predicted_rate(lam_star - 0.01, A) > 0
    assert predicted_rate(lam_star, A) == pytest.approx(0.0, abs=1e-12)
    assert predicted_rate(2.0, A) == 0.0


def test_minimax_never_loses_the_zeros():
    prev = 1.0
    for lam in (0.5, 1, 2, 3, 5):
        f = predicted_rate(lam, A, "minimax")
        g = (1 - A * f) / (1 - A)
        assert 0 < f < prev
        assert math.log((1 + 1 / f) / (1 + 1 / g)) == pytest.approx(lam * math.log(2), rel=1e-6)
        prev = f
    assert predicted_rate(2, A, "minimax") > predicted_rate(2, A, "nonsaturating")
