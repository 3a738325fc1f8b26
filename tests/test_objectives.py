"""The paper's objectives as terms: finite losses, and gradients only where they belong."""
import math

import numpy as np
import pytest
import torch

from repro.evaluate import (conditional_table, inception_score, mean_interval,
                            relative_frequency)
from repro.models import Discriminator, Generator
from repro.objectives import OBJECTIVES, DBatch, GBatch


def _nets(name="acgan"):
    torch.manual_seed(0)
    return Generator(8, 2, 4), Discriminator(2, 4, 0.2, 0.5, twin=OBJECTIVES[name].twin)


def _d_step_grads(name, head="q_head"):
    """Gradients of the D/q loss with respect to a head, real and fake parts apart."""
    G, D = _nets(name)
    x, y = torch.randn(16, 1, 28, 28), torch.randint(0, 2, (16,))
    fake, yf = G(torch.randn(16, 8), torch.randint(0, 2, (16,))).detach(), torch.randint(0, 2, (16,))
    grads = {}
    for part in ("real", "fake"):
        D.zero_grad()
        d_r, q_r, _ = D(x)
        d_f, q_f, t_f = D(fake)
        if part == "real":      # cut the fake path: only real-data terms can reach D
            d_f, q_f = d_f.detach(), q_f.detach()
            t_f = t_f.detach() if t_f is not None else None
        else:
            d_r, q_r = d_r.detach(), q_r.detach()
        terms = OBJECTIVES[name].d_loss(DBatch(d_r, q_r, y, d_f, q_f, yf, t_f))
        loss = sum(terms.values())
        assert torch.isfinite(loss)
        if loss.requires_grad:
            loss.backward()
        grad = getattr(D, head).weight.grad
        grads[part] = grad.abs().sum().item() if grad is not None else 0.0
    return grads


def test_gan_q_head_learns_nothing():
    g = _d_step_grads("gan")
    assert g == {"real": 0.0, "fake": 0.0}


def test_infogan_q_sees_no_real_data():
    g = _d_step_grads("infogan")
    assert g["real"] == 0.0 and g["fake"] > 0


def test_acgan_q_learns_from_real_data_only():
    g = _d_step_grads("acgan")
    assert g["real"] > 0 and g["fake"] == 0.0


def test_acgan_authors_q_learns_from_both():
    g = _d_step_grads("acgan_authors")
    assert g["real"] > 0 and g["fake"] > 0


def test_tacgan_q_on_real_data_and_its_twin_on_generated_data():
    q = _d_step_grads("tacgan")
    assert q["real"] > 0 and q["fake"] == 0.0
    twin = _d_step_grads("tacgan", head="twin_head")
    assert twin["real"] == 0.0 and twin["fake"] > 0


def test_tacgan_term_cancels_when_the_twin_agrees_with_q():
    """λ·[CE(q) − CE(q_mi)] is zero when both classifiers say the same: what is left is
    only how far the generator's posterior is from the data's, not its entropy."""
    q = torch.randn(16, 2)
    codes = torch.randint(0, 2, (16,))
    terms = OBJECTIVES["tacgan"].g_loss(GBatch(torch.zeros(16), q, codes, q.clone()), 2.0,
                                        "nonsaturating")
    assert terms["q_fake"].item() > 0
    assert terms["q_fake"].item() + terms["twin_fake"].item() == pytest.approx(0, abs=1e-6)


@pytest.mark.parametrize("name", list(OBJECTIVES))
def test_generator_gradient_from_q_only_with_term_3(name):
    """G gets a gradient through q exactly when the objective has term 3 and λ_m > 0."""
    G, D = _nets(name)
    codes = torch.randint(0, 2, (16,))
    fake = G(torch.randn(16, 8), codes)
    d_f, q_f, t_f = D(fake)
    terms = OBJECTIVES[name].g_loss(GBatch(d_f.detach(), q_f, codes, t_f), 2.0,
                                    "nonsaturating")
    assert all(torch.isfinite(t) for t in terms.values())
    q_terms = [t for t in terms.values() if t.requires_grad]
    if name == "gan":
        assert not q_terms
    else:
        sum(q_terms).backward()
        assert G.fc[0].weight.grad.abs().sum() > 0


def test_lambda_zero_removes_term_3():
    G, D = _nets()
    codes = torch.randint(0, 2, (16,))
    d_f, q_f, _ = D(G(torch.randn(16, 8), codes))
    terms = OBJECTIVES["acgan"].g_loss(GBatch(d_f, q_f, codes), 0.0, "nonsaturating")
    assert terms["q_fake"].item() == 0.0


def test_minimax_and_nonsaturating_agree_in_direction():
    d = torch.tensor([0.3], requires_grad=True)
    for loss in ("nonsaturating", "minimax"):
        d.grad = None
        OBJECTIVES["gan"].g_loss(GBatch(d, torch.zeros(1, 2), torch.zeros(1).long()), 0, loss)["adv"].backward()
        assert d.grad.item() < 0      # both push D(G(z)) up


# --- the measurement functions, on inputs with known answers -----------------------------
def test_relative_frequency_and_table():
    labels = np.array([0, 0, 1, 2, 7, 0, 1, 2])
    codes = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    f = relative_frequency(labels, [0, 1, 2])
    assert f == {"0": 3 / 8, "1": 2 / 8, "2": 2 / 8, "other": 1 / 8}
    t = conditional_table(labels, codes, 2, [0, 1, 2])
    assert t[0] == {"0": 0.5, "1": 0.25, "2": 0.25, "other": 0.0}
    assert t[1] == {"0": 0.25, "1": 0.25, "2": 0.25, "other": 0.25}


def test_inception_score_known_values():
    k = 4
    one_hot = np.eye(k)[np.arange(400) % k]          # confident and balanced: score = k
    assert inception_score(one_hot)[0] == pytest.approx(k, rel=1e-6)
    uniform = np.full((400, k), 1 / k)               # no information: score = 1
    assert inception_score(uniform)[0] == pytest.approx(1.0)
    collapsed = np.eye(k)[np.zeros(400, int)]        # one class only: score = 1
    assert inception_score(collapsed)[0] == pytest.approx(1.0, rel=1e-6)
    mean, std = inception_score(one_hot, splits=4)
    assert mean == pytest.approx(k, rel=1e-6) and std < 1e-6


def test_bayes_classifier_on_real_overlap_data_gives_the_real_score():
    """0s (share a) get p = (½, ½), 1s p = (1, 0), 2s p = (0, 1): score = exp((1 − a) ln 2)."""
    a = 0.483
    n = 10000
    n0 = int(a * n)
    n1 = (n - n0) // 2
    probs = np.vstack([np.full((n0, 2), 0.5), np.tile([1.0, 0.0], (n1, 1)),
                       np.tile([0.0, 1.0], (n - n0 - n1, 1))])
    expected = math.exp((1 - n0 / n) * math.log(2))
    assert inception_score(probs)[0] == pytest.approx(expected, rel=1e-6)


def test_mean_interval():
    m, lo, hi = mean_interval([1.0, 3.0])
    assert m == 2.0 and lo < 1.0 and hi > 3.0
    assert mean_interval([0.5]) == (0.5, 0.5, 0.5)


def test_every_declared_run_builds_its_networks():
    """All profiles, paper included (never trained in CI): settings resolve, nets run."""
    from repro.config import PROFILES, runs
    from repro.train import build_models, run_key
    seen = set()
    for profile in PROFILES:
        ids = [r.id for r in runs(profile)]
        assert len(ids) == len(set(ids)), profile
        for run in runs(profile):
            s = run.settings
            assert s["objective"] in OBJECTIVES
            run_key(run)
            shape = (s["z_dim"], s["n_codes"], s["width"], s["dropout_in"], s["dropout"])
            if shape in seen:
                continue
            seen.add(shape)
            G, D = build_models(s, torch.device("cpu"))
            x = G(torch.randn(2, s["z_dim"]), torch.tensor([0, 1]))
            d, q, _ = D(x)
            assert x.shape == (2, 1, 28, 28) and d.shape == (2,) and q.shape == (2, s["n_codes"])
