"""The paper's objective, term by term, and the models it makes by choosing terms.

    min_{θ,φ}  JS(p*(x), pθ(x))  −  E_{p*(x,y)} ln qφ(y|x)  −  λ_m E_{pθ(x,y)} ln qφ(y|x)
               (1) adversarial      (2) q learns p*(y|x)      (3) ≥ λ_m H_θ(Y|X)

Each objective is a pair of small functions: the discriminator/classifier loss and the
generator loss, each returning its named terms (summed by the trainer, logged by name).
A new variant is one more pair in OBJECTIVES.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F


@dataclass
class DBatch:
    """What the discriminator step sees: real data with labels, generated data with codes."""
    d_real: torch.Tensor
    q_real: torch.Tensor
    y_real: torch.Tensor
    d_fake: torch.Tensor
    q_fake: torch.Tensor
    y_fake: torch.Tensor
    twin_fake: torch.Tensor | None = None     # TAC-GAN's twin head on generated data


@dataclass
class GBatch:
    """What the generator step sees: D and q on its (non-detached) samples, their codes."""
    d_fake: torch.Tensor
    q_fake: torch.Tensor
    y_fake: torch.Tensor
    twin_fake: torch.Tensor | None = None


# --- the terms ------------------------------------------------------------------------
def adversarial_d(b: DBatch) -> torch.Tensor:
    """Term 1 for D: the standard real/fake cross-entropy, ½[BCE(real,1) + BCE(fake,0)]."""
    return 0.5 * (F.binary_cross_entropy_with_logits(b.d_real, torch.ones_like(b.d_real))
                  + F.binary_cross_entropy_with_logits(b.d_fake, torch.zeros_like(b.d_fake)))


def adversarial_g(b: GBatch, loss: str) -> torch.Tensor:
    """Term 1 for G: non-saturating −log D(G(z)), or minimax log(1 − D(G(z)))."""
    if loss == "nonsaturating":
        return F.binary_cross_entropy_with_logits(b.d_fake, torch.ones_like(b.d_fake))
    if loss == "minimax":
        return -F.binary_cross_entropy_with_logits(b.d_fake, torch.zeros_like(b.d_fake))
    raise ValueError(f"unknown adversarial loss {loss!r}: use nonsaturating or minimax")


def classify_real(b: DBatch) -> torch.Tensor:
    """Term 2: q is fitted to the true posterior p*(y|x) on labelled real data."""
    return F.cross_entropy(b.q_real, b.y_real)


def classify_fake(q_fake: torch.Tensor, y_fake: torch.Tensor) -> torch.Tensor:
    """Term 3's cross-entropy −E_{pθ(x,y)} ln q(y|x): an upper bound on H_θ(Y|X)."""
    return F.cross_entropy(q_fake, y_fake)


# --- the models -------------------------------------------------------------------------
def gan_d(b: DBatch) -> dict:
    return {"adv": adversarial_d(b)}


def gan_g(b: GBatch, lam: float, loss: str) -> dict:
    return {"adv": adversarial_g(b, loss)}


def infogan_d(b: DBatch) -> dict:
    return {"adv": adversarial_d(b), "q_fake": classify_fake(b.q_fake, b.y_fake)}


def entropy_g(b: GBatch, lam: float, loss: str) -> dict:
    """G's loss for InfoGAN and AC-GAN alike: term 1 plus λ_m times term 3."""
    return {"adv": adversarial_g(b, loss), "q_fake": lam * classify_fake(b.q_fake, b.y_fake)}


def acgan_d(b: DBatch) -> dict:
    return {"adv": adversarial_d(b), "q_real": classify_real(b)}


def acgan_authors_d(b: DBatch) -> dict:
    """The authors' release: q is trained on generated samples as well as on real ones."""
    return {"adv": adversarial_d(b), "q_real": classify_real(b),
            "q_fake": classify_fake(b.q_fake, b.y_fake)}


def tacgan_d(b: DBatch) -> dict:
    """TAC-GAN (Gong et al., 2019): q learns p*(y|x) on real data, as in AC-GAN, and a
    twin q_mi learns the generator's own posterior pθ(y|x) on generated data."""
    return {"adv": adversarial_d(b), "q_real": classify_real(b),
            "twin_fake": classify_fake(b.twin_fake, b.y_fake)}


def tacgan_g(b: GBatch, lam: float, loss: str) -> dict:
    """λ·[CE(q) − CE(q_mi)]: CE(q_mi) estimates H_θ(Y|X), so subtracting it cancels the
    conditional-entropy part of term 3 and leaves λ·KL(pθ(y|x) ‖ p*(y|x))."""
    return {"adv": adversarial_g(b, loss), "q_fake": lam * classify_fake(b.q_fake, b.y_fake),
            "twin_fake": -lam * classify_fake(b.twin_fake, b.y_fake)}


@dataclass(frozen=True)
class Objective:
    d_loss: Callable[[DBatch], dict]
    g_loss: Callable[[GBatch, float, str], dict]
    twin: bool = False        # needs the discriminator's twin classifier head


OBJECTIVES: dict[str, Objective] = {
    "gan": Objective(gan_d, gan_g),
    "infogan": Objective(infogan_d, entropy_g),
    "acgan": Objective(acgan_d, entropy_g),
    "acgan_authors": Objective(acgan_authors_d, entropy_g),
    "tacgan": Objective(tacgan_d, tacgan_g, twin=True),
}

_SHARED = (DBatch, GBatch, adversarial_d, adversarial_g, classify_real, classify_fake)


def objective_source(name: str) -> str:
    """The source code that defines one objective: changing it retrains its runs only."""
    return _SOURCES[name]


# read at import, so that editing this file during a long run cannot change its key
_SOURCES = {name: "\n".join(inspect.getsource(f) for f in (*_SHARED, o.d_loss, o.g_loss))
            for name, o in OBJECTIVES.items()}
