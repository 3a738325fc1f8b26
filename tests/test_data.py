"""MNIST from the offline mirror: checksums, shapes, clear errors, and overlap MNIST."""
import gzip
import shutil

import pytest
import torch

from repro import data

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_mirror_files_verify_and_load(mirror, tmp_path):
    root = data.prepare_mnist(tmp_path, mirror)
    for name in data.MNIST_FILES:
        data.verify_file(root / "MNIST" / "raw" / name, "unused")
    x, y = data.load_mnist("train", root)
    assert x.shape == (60000, 28, 28) and x.dtype == torch.uint8
    assert torch.bincount(y).tolist() == TRAIN_COUNTS
    x, y = data.load_mnist("test", root)
    assert x.shape == (10000, 28, 28)
    assert torch.bincount(y).tolist() == TEST_COUNTS


def _damaged_mirror(mirror, tmp_path, damage):
    bad = tmp_path / "mirror"
    shutil.copytree(mirror, bad)
    damage(bad)
    return bad


def test_corrupted_mirror_file_is_named(mirror, tmp_path):
    def flip_a_byte(folder):
        raw = bytearray(gzip.decompress((folder / "train-labels-idx1-ubyte.gz").read_bytes()))
        raw[100] ^= 0xFF
        (folder / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(bytes(raw)))
    bad = _damaged_mirror(mirror, tmp_path, flip_a_byte)
    with pytest.raises(data.DataError, match=r"train-labels-idx1-ubyte: md5 .* expected "
                                             r"a25bea736e30d166cdddb491f175f624"):
        data.prepare_mnist(tmp_path / "data", bad)
    # nothing half-made is left behind under the expected name
    assert not (tmp_path / "data" / "MNIST" / "raw" / "train-labels-idx1-ubyte").exists()


def test_truncated_mirror_file_is_named(mirror, tmp_path):
    def truncate(folder):
        raw = gzip.decompress((folder / "t10k-images-idx3-ubyte.gz").read_bytes())
        (folder / "t10k-images-idx3-ubyte.gz").unlink()
        (folder / "t10k-images-idx3-ubyte").write_bytes(raw[:5000])
    bad = _damaged_mirror(mirror, tmp_path, truncate)
    with pytest.raises(data.DataError, match=r"t10k-images-idx3-ubyte: 5000 bytes, expected "
                                             r"7840016"):
        data.prepare_mnist(tmp_path / "data", bad)


def test_wrong_shape_mirror_file_is_named(mirror, tmp_path):
    """Same size, other shape: a header declaring 60000 images of 14×56 pixels."""
    def reshape(folder):
        raw = bytearray(gzip.decompress((folder / "train-images-idx3-ubyte.gz").read_bytes()))
        raw[8:16] = (14).to_bytes(4, "big") + (56).to_bytes(4, "big")
        (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(bytes(raw)))
    bad = _damaged_mirror(mirror, tmp_path, reshape)
    with pytest.raises(data.DataError, match=r"train-images-idx3-ubyte: IDX shape \(60000, 14, "
                                             r"56\), expected \(60000, 28, 28\)"):
        data.prepare_mnist(tmp_path / "data", bad)
    assert not (tmp_path / "data" / "MNIST" / "raw" / "train-images-idx3-ubyte").exists()


def test_missing_mirror_file_is_named(mirror, tmp_path):
    bad = _damaged_mirror(mirror, tmp_path,
                          lambda folder: (folder / "t10k-labels-idx1-ubyte.gz").unlink())
    with pytest.raises(data.DataError, match=r"t10k-labels-idx1-ubyte\(\.gz\): not in the MNIST "
                                             r"mirror .*REPRO_MNIST_MIRROR"):
        data.prepare_mnist(tmp_path / "data", bad)


def test_damaged_local_copy_is_refused(mirror, tmp_path):
    root = data.prepare_mnist(tmp_path, mirror)
    target = root / "MNIST" / "raw" / "train-images-idx3-ubyte"
    with open(target, "r+b") as f:
        f.seek(20_000)
        f.write(b"\x01\x02\x03")
    with pytest.raises(data.DataError, match="train-images-idx3-ubyte: md5 .* delete it"):
        data.prepare_mnist(tmp_path, mirror)


def test_cli_reports_bad_mirror_in_one_line(mirror, tmp_path):
    from conftest import repro
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = repro("train", "--profile", "smoke", "--artifacts", str(tmp_path / "a"),
                 env={"REPRO_MNIST_MIRROR": str(empty), "REPRO_DATA_DIR": str(tmp_path / "d")},
                 check=False)
    assert proc.returncode == 2
    assert "train-images-idx3-ubyte(.gz): not in the MNIST mirror" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_overlap_mnist_construction(mirror):
    x, y = data.load_mnist("train")
    images, codes, digits = data.overlap_mnist(x, y)
    assert len(images) == 24546 == 2 * 5923 + 6742 + 5958
    assert (codes == 0).sum() == 5923 + 6742 and (codes == 1).sum() == 5923 + 5958
    # class A holds 0s and 1s, class B 0s and 2s; every 0 is in both
    assert set(digits[codes == 0].tolist()) == {0, 1}
    assert set(digits[codes == 1].tolist()) == {0, 2}
    zeros_a = images[(codes == 0) & (digits == 0)]
    zeros_b = images[(codes == 1) & (digits == 0)]
    assert torch.equal(zeros_a, zeros_b)
    assert abs(float((digits == 0).float().mean()) - 0.4826) < 1e-4
