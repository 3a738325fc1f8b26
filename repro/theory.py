"""A mean-field prediction of how many 0s AC-GAN keeps on overlap MNIST.

Hold the discriminator at its optimum D* = p*/(p* + pθ) and the classifier at the Bayes
posterior (q(y | a 0) = ½, so a generated 0 costs λ_m·ln 2 in term 3 and any other digit
costs nothing).  Let the generator draw 0s at f times their data rate and everything else
at g times, with a·f + (1 − a)·g = 1 (a = the data's share of 0s).  A generated sample's
adversarial cost is −log D = log(1 + r) for the non-saturating loss (r = pθ/p*), or
log(1 − D) = −log(1 + 1/r) for the minimax loss.  Moving mass between the 0s and the rest
stops paying off when the two per-sample costs are equal:

    non-saturating:  log((1 + g)/(1 + f))     = λ_m ln 2
    minimax:         log((1 + 1/f)/(1 + 1/g)) = λ_m ln 2

This is a fixed-point argument about per-sample costs, not a theorem about the GAN game.
The first has f = 0 (the 0s vanish) once λ_m ≥ log2(1 + 1/(1 − a)); the second's left side
grows without bound as f → 0, so under the minimax loss the 0s never vanish.
"""
from __future__ import annotations

import math


def _rest_rate(f: float, a: float) -> float:
    return (1 - a * f) / (1 - a)


def vanishing_lambda(a: float) -> float:
    """The λ_m from which the non-saturating prediction keeps no 0s at all."""
    return math.log2(1 + 1 / (1 - a))


def predicted_rate(lam: float, a: float, loss: str = "nonsaturating") -> float:
    """f: the generator's rate of 0s relative to the data's, in [0, 1]."""
    if lam <= 0:
        return 1.0
    target = lam * math.log(2)
    if loss == "nonsaturating":
        # closed form of log((1 + g)/(1 + f)) = λ ln 2 with g = (1 − a f)/(1 − a)
        k = 2.0 ** lam
        return max(0.0, ((2 - a) - k * (1 - a)) / (a + k * (1 - a)))
    if loss == "minimax":
        def gap(f):
            return math.log((1 + 1 / f) / (1 + 1 / _rest_rate(f, a))) - target
        lo, hi = 1e-300, 1.0          # gap(lo) > 0 > gap(1): bisect in log space
        for _ in range(200):
            mid = math.sqrt(lo * hi)
            lo, hi = (mid, hi) if gap(mid) > 0 else (lo, mid)
        return math.sqrt(lo * hi)
    raise ValueError(f"unknown adversarial loss {loss!r}")


def predicted_zero_share(lam: float, a: float, loss: str = "nonsaturating") -> float:
    """The predicted share of 0s among the generated samples: a·f."""
    return a * predicted_rate(lam, a, loss)
