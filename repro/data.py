"""MNIST through torchvision, an offline mirror with verified checksums, and overlap MNIST.

Online users get torchvision's normal download.  Offline, `REPRO_MNIST_MIRROR` (or
`--mirror`) names a folder holding the four IDX files (.gz or plain); they are
decompressed into the layout torchvision expects (`<data>/MNIST/raw/`), and every
decompressed file is checked for its md5 and its IDX shape before anything trains on it.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import os
import shutil
from pathlib import Path

import torch

from .config import ROOT
from .util import atomic_path

# name → (md5 of the decompressed file, IDX shape)
MNIST_FILES = {
    "train-images-idx3-ubyte": ("6bbc9ace898e44ae57da46a324031adb", (60000, 28, 28)),
    "train-labels-idx1-ubyte": ("a25bea736e30d166cdddb491f175f624", (60000,)),
    "t10k-images-idx3-ubyte": ("2646ac647ad5339dbf082846283269ea", (10000, 28, 28)),
    "t10k-labels-idx1-ubyte": ("27ae3e4e09519cfbb04c329615203637", (10000,)),
}
MIRROR_ENV = "REPRO_MNIST_MIRROR"
DATA_ENV = "REPRO_DATA_DIR"


class DataError(RuntimeError):
    """MNIST is missing or damaged; the message names the file and the fix."""


def data_dir() -> Path:
    return Path(os.environ.get(DATA_ENV, ROOT / "data"))


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def idx_shape(path: Path) -> tuple[int, ...] | None:
    """The shape an IDX file of unsigned bytes declares in its header; None if it is not one."""
    with open(path, "rb") as f:
        head = f.read(16)
    if len(head) < 8 or head[:2] != b"\0\0" or head[2] != 0x08:
        return None
    ndim = head[3]
    return tuple(int.from_bytes(head[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))


def verify_file(path: Path, fix: str, name: str | None = None) -> None:
    """Raise a one-line DataError unless `path` has the right size, shape and md5."""
    name = name or path.name
    md5, shape = MNIST_FILES[name]
    if not path.exists():
        raise DataError(f"{name}: missing from {path.parent}; {fix}")
    header = 16 if len(shape) == 3 else 8
    expected_size = header + int(torch.tensor(shape).prod())
    size = path.stat().st_size
    if size != expected_size:
        raise DataError(f"{name}: {size} bytes, expected {expected_size} "
                        f"(truncated or wrong file); {fix}")
    got_shape = idx_shape(path)
    if got_shape != shape:
        raise DataError(f"{name}: IDX shape {got_shape}, expected {shape}; {fix}")
    got = _md5(path)
    if got != md5:
        raise DataError(f"{name}: md5 {got}, expected {md5} (corrupted); {fix}")


def _copy_from_mirror(mirror: Path, name: str, dest: Path) -> None:
    gz, plain = mirror / f"{name}.gz", mirror / name
    if not gz.exists() and not plain.exists():
        raise DataError(f"{name}(.gz): not in the MNIST mirror {mirror}; "
                        f"point {MIRROR_ENV} at a folder with the four MNIST IDX files")
    with atomic_path(dest) as tmp:
        try:
            if gz.exists():
                with gzip.open(gz, "rb") as src, open(tmp, "wb") as out:
                    shutil.copyfileobj(src, out)
            else:
                shutil.copyfile(plain, tmp)
        except (OSError, EOFError, gzip.BadGzipFile) as e:
            raise DataError(f"{gz.name if gz.exists() else name}: cannot be read from the "
                            f"mirror {mirror} ({e}); replace it with an intact copy") from None
        verify_file(tmp, f"the mirror's copy in {mirror} is damaged; replace it with an "
                         f"intact one", name=name)


def prepare_mnist(root: Path | None = None, mirror: str | Path | None = None) -> Path:
    """Make `<root>/MNIST/raw/` hold the four verified files; return `root`.

    Missing files come from the mirror, or from torchvision's download when no mirror is
    set.  A damaged file is never used, nor silently replaced: the error names it.
    """
    root = Path(root) if root else data_dir()
    mirror = mirror or os.environ.get(MIRROR_ENV) or None
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name in MNIST_FILES:
        dest = raw / name
        if not dest.exists():
            if mirror:
                _copy_from_mirror(Path(mirror), name, dest)
            else:
                import torchvision
                for train in (True, False):
                    torchvision.datasets.MNIST(str(root), train=train, download=True)
        verify_file(dest, f"delete it and rerun to fetch it again "
                          f"(set {MIRROR_ENV} to use an offline mirror)")
    return root


def load_mnist(split: str, root: Path | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(images uint8 (N,28,28), labels int64 (N,)) of the 'train' or 'test' split.

    Verified and read once per process and folder; callers get the same (read-only) tensors.
    """
    if split not in ("train", "test"):
        raise ValueError(f"unknown MNIST split {split!r}: use 'train' or 'test'")
    return _load_mnist(split, Path(root) if root else data_dir())


@functools.lru_cache(maxsize=4)
def _load_mnist(split: str, root: Path) -> tuple[torch.Tensor, torch.Tensor]:
    import torchvision
    prepare_mnist(root)
    ds = torchvision.datasets.MNIST(str(root), train=split == "train", download=False)
    return ds.data.clone(), ds.targets.clone()


def overlap_mnist(images: torch.Tensor, digits: torch.Tensor):
    """Class A = all 0s and 1s, class B = all 0s and 2s: every 0 appears once in each.

    Returns (images, codes, digits) with codes 0 = A and 1 = B.  The 0s sit exactly on
    the Bayes decision boundary: p*(A | a 0) = 1/2.
    """
    parts = [(0, 0), (1, 0), (0, 1), (2, 1)]    # (digit, class)
    xs, cs, ds = [], [], []
    for digit, cls in parts:
        idx = (digits == digit).nonzero().squeeze(1)
        xs.append(images[idx])
        cs.append(torch.full((len(idx),), cls, dtype=torch.long))
        ds.append(digits[idx])
    return torch.cat(xs), torch.cat(cs), torch.cat(ds)


def training_set(dataset: str, root: Path | None = None):
    """(images uint8, codes, digits) a GAN of this dataset learns from."""
    images, digits = load_mnist("train", root)
    if dataset == "overlap_mnist":
        return overlap_mnist(images, digits)
    if dataset == "mnist":
        return images, digits.clone(), digits
    raise ValueError(f"unknown dataset {dataset!r}")
