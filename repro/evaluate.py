"""Measuring a GAN with networks that are not part of it.

The *evaluator* is a 10-way MNIST CNN (which digit is this?) and the *A-vs-B classifier*
is trained on real overlap MNIST (which class?).  Both are trained once per profile and
cached.  Every run is sampled with fixed noise and balanced codes, and its samples are
measured: the relative frequency of each digit, P(digit | code), the 2-class
Inception-style score, and how much the GAN's own head q is being exploited.
"""
from __future__ import annotations

import hashlib
import inspect
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import data as data_mod
from .config import PROFILES, SAMPLE_SEED, GRID_SEED, Run, config_hash
from .models import Classifier, to_uint8, to_unit
from .train import load_models, run_dir, run_key
from .util import atomic_path, provenance, read_json, seed_everything, write_json

DIGIT_BINS = ["0", "1", "2", "other"]          # what overlap-MNIST samples are counted as


# --- the score functions ------------------------------------------------------------------
def relative_frequency(labels: np.ndarray, bins: list[int]) -> dict[str, float]:
    """Share of each label in `bins`, and of everything else as 'other'."""
    labels = np.asarray(labels)
    out = {str(b): float(np.mean(labels == b)) for b in bins}
    out["other"] = float(np.mean(~np.isin(labels, bins)))
    return out


def conditional_table(labels: np.ndarray, codes: np.ndarray, n_codes: int,
                      bins: list[int]) -> list[dict[str, float]]:
    """P(digit | code): one row of relative frequencies per generator code."""
    labels, codes = np.asarray(labels), np.asarray(codes)
    return [relative_frequency(labels[codes == c], bins) for c in range(n_codes)]


def inception_score(probs: np.ndarray, splits: int = 1) -> tuple[float, float]:
    """exp(E_x KL(p(y|x) ‖ p(y))), mean and std over `splits` equal parts."""
    probs = np.asarray(probs, dtype=np.float64)
    scores = []
    for part in np.array_split(probs, splits):
        marginal = part.mean(0, keepdims=True)
        kl = np.sum(part * (np.log(part + 1e-12) - np.log(marginal + 1e-12)), axis=1)
        scores.append(float(np.exp(kl.mean())))
    return float(np.mean(scores)), float(np.std(scores))


def mean_interval(values: list[float]) -> tuple[float, float, float]:
    """Mean and a 95% t-interval over seeds (the interval is the mean itself for one seed)."""
    v = np.asarray(values, dtype=np.float64)
    m = float(v.mean())
    if len(v) < 2:
        return m, m, m
    t95 = {2: 12.706, 3: 4.303, 4: 3.182, 5: 2.776, 6: 2.571, 7: 2.447, 8: 2.365, 9: 2.306,
           10: 2.262}.get(len(v), 1.96)
    half = t95 * float(v.std(ddof=1)) / np.sqrt(len(v))
    return m, m - half, m + half


# --- the classifiers ----------------------------------------------------------------------
def _classifier_data(name: str, split: str):
    images, digits = data_mod.load_mnist(split)
    if name == "evaluator":
        return images, digits, 10
    images, codes, _ = data_mod.overlap_mnist(images, digits)
    return images, codes, 2


def _shift(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Random translation by up to 2 pixels (the same for a whole batch): cheap augmentation."""
    dx, dy = (int(v) for v in torch.randint(-2, 3, (2,), generator=g))
    return torch.roll(x, shifts=(dy, dx), dims=(2, 3))


def classifier_key(profile: str, name: str) -> str:
    src = inspect.getsource(sys.modules[__name__].train_classifier)
    src += inspect.getsource(Classifier)
    return config_hash({"name": name, "settings": PROFILES[profile]["classifiers"][name],
                        "code": hashlib.sha256(src.encode()).hexdigest()})


def train_classifier(profile: str, name: str, device: torch.device, progress=None) -> dict:
    """Train the evaluator ('evaluator') or the A-vs-B classifier ('ab') on real data."""
    s = PROFILES[profile]["classifiers"][name]
    g = seed_everything(s["seed"])
    images, labels, n_classes = _classifier_data(name, "train")
    if s["data_limit"] is not None and s["data_limit"] < len(images):
        idx = torch.randperm(len(images), generator=g)[:s["data_limit"]]
        images, labels = images[idx], labels[idx]
    x, y = to_unit(images).to(device), labels.to(device)
    net = Classifier(n_classes, s["width"]).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=s["lr"])
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=s["lr"], total_steps=s["steps"])
    net.train()
    start = time.time()
    for step in range(1, s["steps"] + 1):
        idx = torch.randint(0, len(x), (s["batch"],), generator=g).to(device)
        loss = F.cross_entropy(net(_shift(x[idx], g)), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if progress is not None:
            progress(step)
    net.eval()
    test_images, test_labels, _ = _classifier_data(name, "test")
    probs = predict(net, test_images, device)
    accuracy = float((probs.argmax(1) == test_labels.numpy()).mean())
    return {"net": net, "accuracy": accuracy, "wall_s": round(time.time() - start, 2)}


def classifier_path(profile_dir: Path, name: str) -> Path:
    return profile_dir / "runs" / "classifiers" / name


def load_classifier(profile: str, profile_dir: Path, name: str, device: torch.device,
                    progress_factory=None) -> tuple[Classifier, dict]:
    """The cached classifier, trained first if it is missing or its settings changed."""
    d = classifier_path(profile_dir, name)
    key = classifier_key(profile, name)
    n_classes = 10 if name == "evaluator" else 2
    settings = PROFILES[profile]["classifiers"][name]
    net = Classifier(n_classes, settings["width"]).to(device)
    done = d / "done.json"
    if not (done.exists() and read_json(done).get("key") == key and (d / "model.pt").exists()):
        progress = progress_factory(f"classifier {name}", settings["steps"]) \
            if progress_factory else None
        result = train_classifier(profile, name, device, progress)
        with atomic_path(d / "model.pt") as tmp:
            torch.save(result["net"].state_dict(), tmp)
        write_json(d / "metrics.json", {"name": name, "key": key,
                                        "test_accuracy": result["accuracy"],
                                        "wall_s": result["wall_s"],
                                        "settings": settings,
                                        "provenance": provenance(device)})
        write_json(done, {"key": key})
    net.load_state_dict(torch.load(d / "model.pt", map_location=device, weights_only=True))
    metrics = read_json(d / "metrics.json")
    # identifies this trained network (its record holds its wall time), not only its config
    metrics["trained"] = hashlib.sha256((d / "metrics.json").read_bytes()).hexdigest()[:16]
    return net.eval(), metrics


@torch.no_grad()
def predict(net: torch.nn.Module, images: torch.Tensor, device: torch.device,
            batch: int = 1000) -> np.ndarray:
    """Class probabilities (N, K) for uint8 images (N, 28, 28)."""
    out = []
    for i in range(0, len(images), batch):
        out.append(F.softmax(net(to_unit(images[i:i + batch]).to(device)), 1).cpu())
    return torch.cat(out).numpy()


# --- sampling -----------------------------------------------------------------------------
@torch.no_grad()
def sample(G, n: int, device: torch.device, seed: int = SAMPLE_SEED,
           codes: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """n uint8 images with balanced codes (0,1,0,1,...) from fixed noise."""
    g = torch.Generator().manual_seed(seed)
    if codes is None:
        codes = torch.arange(n) % G.n_codes
    z = torch.randn(n, G.z_dim, generator=g)
    images = []
    for i in range(0, n, 1000):
        x = G(z[i:i + 1000].to(device), codes[i:i + 1000].to(device))
        images.append(to_uint8(x).cpu())
    return torch.cat(images), codes


@torch.no_grad()
def q_cross_entropy(D, images: torch.Tensor, codes: torch.Tensor, device) -> float | None:
    """Mean cross-entropy of the GAN's own head q on (images, codes), in eval mode.

    On generated 0s a Bayes classifier pays ln 2 ≈ 0.69; far less means q is exploited.
    """
    if len(images) == 0:
        return None
    q = D(to_unit(images).to(device))[1]
    return float(F.cross_entropy(q, codes.to(device)).cpu())


def evaluation_key(run: Run, classifier_keys: list[str], profile_dir: Path) -> str:
    """Metrics are current while the run's training record and both classifiers are the
    ones they were measured with (a retrained run or classifier invalidates them)."""
    record = run_dir(profile_dir, run) / "train.json"
    trained = hashlib.sha256(record.read_bytes()).hexdigest() if record.exists() else None
    return config_hash({"run": run_key(run), "trained": trained, "classifiers": classifier_keys})


def is_evaluated(run: Run, profile_dir: Path, classifier_keys: list[str]) -> bool:
    path = run_dir(profile_dir, run) / "metrics.json"
    return path.exists() and \
        read_json(path).get("key") == evaluation_key(run, classifier_keys, profile_dir)


def save_npz(path: Path, **arrays) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)


def evaluate_run(run: Run, profile_dir: Path, device, evaluator, ab,
                 classifier_keys: list[str] = ()) -> dict:
    """Sample a trained run and measure it; write metrics.json and grid.npz beside it."""
    s = run.settings
    start = time.time()
    G, D = load_models(run, profile_dir, device)
    images, codes = sample(G, s["samples"], device)
    digit_probs = predict(evaluator, images, device)
    digits = digit_probs.argmax(1)
    d = run_dir(profile_dir, run)
    metrics = {
        "id": run.id, "key": evaluation_key(run, list(classifier_keys), profile_dir),
        "experiment": s["experiment"],
        "variant": s["variant"], "lam": s["lam"], "seed": s["seed"], "n_samples": len(images),
        "q_ce_on_all": q_cross_entropy(D, images[:2000], codes[:2000], device),
    }
    if s["experiment"] == "overlap":
        zeros = torch.from_numpy(digits == 0)
        metrics.update({
            "frequency": relative_frequency(digits, [0, 1, 2]),
            "p_digit_given_code": conditional_table(digits, codes.numpy(), 2, [0, 1, 2]),
            "score_2class": inception_score(predict(ab, images, device))[0],
            "q_ce_on_zeros": q_cross_entropy(D, images[zeros][:2000], codes[zeros][:2000],
                                             device),
        })
        grid, grid_codes = sample_fixed_per_code(G, 64, device, GRID_SEED)
    else:
        from .full_mnist import full_metrics
        full = full_metrics(images.numpy(), digit_probs)
        save_npz(d / "ones.npz", images=full.pop("_first_ones"), scores=full.pop("_first_scores"))
        metrics.update(full)
        metrics["code_accuracy"] = float(np.mean(digits == codes.numpy()))
        grid, grid_codes = sample_fixed_per_code(G, 8, device, GRID_SEED)
    save_npz(d / "grid.npz", images=grid.numpy(), codes=grid_codes.numpy())
    metrics["wall_s"] = round(time.time() - start, 2)
    write_json(d / "metrics.json", metrics)
    return metrics


@torch.no_grad()
def sample_fixed_per_code(G, per_code: int, device, seed: int):
    """The same `per_code` noise vectors under every code: models compare image by image."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(per_code, G.z_dim, generator=g).repeat(G.n_codes, 1)
    codes = torch.arange(G.n_codes).repeat_interleave(per_code)
    return to_uint8(G(z.to(device), codes.to(device))).cpu(), codes


def real_reference(evaluator, ab, evaluator_metrics: dict, device,
                   profile_dir: Path) -> dict:
    """The real data's numbers, against which every run is read."""
    train_images, train_digits = data_mod.load_mnist("train")
    _, train_codes, train_ov_digits = data_mod.overlap_mnist(train_images, train_digits)
    test_images, test_digits = data_mod.load_mnist("test")
    ov_images, ov_codes, ov_digits = data_mod.overlap_mnist(test_images, test_digits)
    ab_probs = predict(ab, ov_images, device)
    digits_seen = predict(evaluator, ov_images, device).argmax(1)
    return {
        "overlap_train_size": int(len(train_codes)),
        "overlap_frequency": relative_frequency(train_ov_digits.numpy(), [0, 1, 2]),
        "overlap_p_digit_given_code": conditional_table(train_ov_digits.numpy(),
                                                        train_codes.numpy(), 2, [0, 1, 2]),
        "overlap_test_frequency_by_evaluator": relative_frequency(digits_seen, [0, 1, 2]),
        "overlap_test_score_2class": inception_score(ab_probs)[0],
        "ab_test_accuracy": float((ab_probs.argmax(1) == ov_codes.numpy()).mean()),
        "ab_mean_p_on_zeros": float(ab_probs[ov_digits.numpy() == 0, 0].mean()),
        "evaluator_test_accuracy": evaluator_metrics["test_accuracy"],
        "full": full_reference(evaluator, device, profile_dir),
    }


def full_reference(evaluator, device, profile_dir: Path) -> dict:
    """The real data's full-MNIST numbers: the test split through the evaluator, and the
    serif score on every real training 1 (labels, not predictions)."""
    from .full_mnist import SERIF_THRESHOLD, full_metrics, ones_summary, serif_scores
    test_images, _ = data_mod.load_mnist("test")
    probs = predict(evaluator, test_images, device)
    test = full_metrics(test_images.numpy(), probs)
    test.pop("_first_ones"), test.pop("_first_scores")
    train_images, train_digits = data_mod.load_mnist("train")
    ones = ones_summary(train_images.numpy(), train_digits.numpy())
    all_ones = train_images[train_digits == 1].numpy()
    scores = serif_scores(all_ones)
    flagged = all_ones[scores >= SERIF_THRESHOLD][:100]
    plain = all_ones[scores < SERIF_THRESHOLD][:100]
    save_npz(profile_dir / "reference_ones.npz", ones=ones.pop("first_ones"),
             scores=ones.pop("first_scores"), flagged=flagged, plain=plain)
    return {"test": test, "train_ones": ones}
