"""Tests for zeroevo.data.images: IDX and CIFAR-10 readers on tiny files, digits, Fashion-MNIST."""
from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from zeroevo.core.errors import ConfigError, DataError
from zeroevo.data.images import (
    FASHION_MNIST_CLASSES,
    ImageData,
    load_cifar10,
    load_digits,
    load_fashion_mnist,
    load_image_dataset,
    load_mnist,
    read_idx,
)

IDX_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
FASHION_ROOT = Path("/usr/share/datasets/fashion-mnist")


def idx_bytes(arr: np.ndarray, code: int = 0x08) -> bytes:
    """Encode ``arr`` as an IDX file with the given type code."""
    dt = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[code]
    header = bytes([0, 0, code, arr.ndim]) + b"".join(struct.pack(">I", d) for d in arr.shape)
    return header + np.ascontiguousarray(arr, dtype=dt).tobytes()


def write_mnist(root: Path, rng: np.random.Generator, gz: bool, n=(7, 3), side=5):
    """Write four tiny MNIST-layout IDX files; return the arrays written."""
    root.mkdir(parents=True, exist_ok=True)
    arrays = []
    for n_img in n:
        arrays += [rng.integers(0, 256, (n_img, side, side), dtype=np.uint8),
                   rng.integers(0, 10, n_img, dtype=np.uint8)]
    for name, arr in zip(IDX_NAMES, arrays):
        data = idx_bytes(arr)
        if gz:
            (root / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (root / name).write_bytes(data)
    return arrays


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_round_trip(tmp_path, gz):
    arrays = write_mnist(tmp_path, np.random.default_rng(1), gz)
    d = load_mnist(tmp_path)
    assert isinstance(d, ImageData) and d.name == "mnist"
    assert d.x_train.shape == (7, 1, 5, 5) and d.x_test.shape == (3, 1, 5, 5)
    assert d.x_train.dtype == np.uint8 and d.y_train.dtype == np.int64
    np.testing.assert_array_equal(d.x_train[:, 0], arrays[0])
    np.testing.assert_array_equal(d.y_train, arrays[1])
    np.testing.assert_array_equal(d.x_test[:, 0], arrays[2])
    np.testing.assert_array_equal(d.y_test, arrays[3])
    assert d.classes == tuple("0123456789")
    assert load_image_dataset("mnist", str(tmp_path)).y_test.tolist() == arrays[3].tolist()


@pytest.mark.parametrize("code", [0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E])
def test_read_idx_dtypes_native_order(tmp_path, code):
    arr = np.arange(24).reshape(2, 3, 4) * (1 if code in (0x08, 0x09) else 1000)
    if code != 0x08:
        arr = arr - 12 * arr[0, 0, 1]  # negatives, multi-byte values: byte order matters
    if code >= 0x0D:
        arr = arr + 0.25
    path = tmp_path / "x.idx"
    path.write_bytes(idx_bytes(arr, code))
    out = read_idx(path)
    assert out.shape == (2, 3, 4) and out.dtype.isnative
    np.testing.assert_array_equal(out, arr)


def test_gzip_detected_by_magic_not_name(tmp_path):
    arr = np.arange(6, dtype=np.uint8)
    (tmp_path / "gz_without_suffix").write_bytes(gzip.compress(idx_bytes(arr)))
    (tmp_path / "raw.gz").write_bytes(idx_bytes(arr))
    np.testing.assert_array_equal(read_idx(tmp_path / "gz_without_suffix"), arr)
    np.testing.assert_array_equal(read_idx(tmp_path / "raw.gz"), arr)


@pytest.mark.parametrize("data, message", [
    (b"", "not an IDX file"),
    (b"\x00\x00", "not an IDX file"),
    (b"PK\x03\x04rest-of-a-zip", "two zero bytes"),
    (b"\x00\x00\x0a\x01\x00\x00\x00\x01\x00", "unknown IDX type code 0x0A"),
    (b"\x00\x00\x08\x00", "0 dimensions"),
    (b"\x00\x00\x08\x03\x00\x00\x00\x02", "truncated IDX header"),
    (idx_bytes(np.zeros((4, 3, 3), np.uint8))[:-1], "truncated"),
    (idx_bytes(np.zeros((4, 3, 3), np.uint8)) + b"\x00", "trailing bytes"),
    (b"\x00\x00\x08\x02\xff\xff\xff\xff\xff\xff\xff\xff\x00", "truncated"),
])
def test_read_idx_rejects_bad_files(tmp_path, data, message):
    path = tmp_path / "bad-idx"
    path.write_bytes(data)
    with pytest.raises(DataError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("damage", ["truncated", "bad_header", "corrupt_body", "bad_crc"])
def test_read_idx_bad_gzip(tmp_path, damage):
    good = gzip.compress(idx_bytes(np.arange(200, dtype=np.uint8)))
    data = {
        "truncated": good[: len(good) // 2],
        "bad_header": b"\x1f\x8b\x99" + good[3:],
        "corrupt_body": good[:12] + bytes(b ^ 0xFF for b in good[12:-8]) + good[-8:],
        "bad_crc": good[:-8] + bytes(b ^ 0xFF for b in good[-8:-4]) + good[-4:],
    }[damage]
    path = tmp_path / "x.gz"
    path.write_bytes(data)
    with pytest.raises(DataError, match="cannot read") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_read_idx_missing_file(tmp_path):
    with pytest.raises(DataError, match="nope"):
        read_idx(tmp_path / "nope")


def test_mnist_missing_file_and_bad_labels(tmp_path):
    write_mnist(tmp_path, np.random.default_rng(2), gz=True)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="missing t10k-labels-idx1-ubyte"):
        load_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.array([1, 2], np.uint8)))
    with pytest.raises(DataError, match="labels for 3 images"):
        load_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.array([1, 2, 10], np.uint8)))
    with pytest.raises(DataError, match=r"0\.\.9"):
        load_mnist(tmp_path)


def test_fashion_mnist_missing_says_how_to_install(tmp_path):
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist"):
        load_fashion_mnist(tmp_path / "empty")


def cifar_batch(rng: np.random.Generator, n: int, str_keys: bool = False) -> dict:
    """A tiny CIFAR-10 python batch, shaped like the real ones."""
    batch = {b"batch_label": b"tiny", b"labels": rng.integers(0, 10, n).tolist(),
             b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
             b"filenames": [b"f%d.png" % i for i in range(n)]}
    return {k.decode(): v for k, v in batch.items()} if str_keys else batch


def write_cifar_python(root: Path, protocol: int, rng: np.random.Generator) -> list[dict]:
    root.mkdir(parents=True, exist_ok=True)
    batches = [cifar_batch(rng, 2 + i, str_keys=i == 2) for i in range(6)]
    for name, batch in zip([f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"], batches):
        (root / name).write_bytes(pickle.dumps(batch, protocol=protocol))
    meta = {b"label_names": [n.encode() for n in "abcdefghij"], b"num_vis": 3072}
    (root / "batches.meta").write_bytes(pickle.dumps(meta, protocol=protocol))
    return batches


def labels_of(batch: dict) -> list:
    return batch.get(b"labels", batch.get("labels"))


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_cifar10_python_round_trip(tmp_path, protocol):
    batches = write_cifar_python(tmp_path / "cifar-10-batches-py", protocol,
                                 np.random.default_rng(3))
    d = load_cifar10(tmp_path)  # the parent directory is accepted too
    assert d.x_train.shape == (2 + 3 + 4 + 5 + 6, 3, 32, 32) and d.x_test.shape == (7, 3, 32, 32)
    assert d.x_train.dtype == np.uint8 and d.y_train.dtype == np.int64
    assert d.y_train.tolist() == sum((labels_of(b) for b in batches[:5]), [])
    assert d.y_test.tolist() == labels_of(batches[5])
    first = batches[0][b"data"][0]
    np.testing.assert_array_equal(d.x_train[0, 1].ravel(), first[1024:2048])  # green plane
    assert d.classes == tuple("abcdefghij")
    assert load_image_dataset("cifar10", tmp_path).x_test.shape == (7, 3, 32, 32)


def test_cifar10_numpy1_module_names(tmp_path):
    """The real batches (pickled by numpy 1) name numpy.core.multiarray, not numpy._core."""
    batches = write_cifar_python(tmp_path, 2, np.random.default_rng(9))
    old = pickle.dumps(batches[5], protocol=2).replace(b"cnumpy._core.", b"cnumpy.core.")
    assert b"cnumpy.core.multiarray\n_reconstruct" in old
    (tmp_path / "test_batch").write_bytes(old)
    d = load_cifar10(tmp_path)
    np.testing.assert_array_equal(d.x_test.reshape(7, -1), batches[5][b"data"])


def test_cifar10_binary_round_trip(tmp_path):
    rng = np.random.default_rng(4)
    records = {}
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        rec = rng.integers(0, 256, (3, 3073), dtype=np.uint8)
        rec[:, 0] %= 10
        records[name] = rec
        (tmp_path / name).write_bytes(rec.tobytes())
    d = load_cifar10(tmp_path)
    assert d.x_train.shape == (15, 3, 32, 32) and d.y_test.dtype == np.int64
    assert d.y_test.tolist() == records["test_batch.bin"][:, 0].tolist()
    np.testing.assert_array_equal(d.x_test.reshape(3, -1), records["test_batch.bin"][:, 1:])
    assert d.classes[0] == "airplane"
    (tmp_path / "test_batch.bin").write_bytes(records["test_batch.bin"].tobytes()[:-5])
    with pytest.raises(DataError, match="multiple of the 3073-byte"):
        load_cifar10(tmp_path)


class Evil:
    """Pickling an instance references this test module: the loader must refuse it."""


def test_cifar10_refuses_foreign_globals(tmp_path):
    write_cifar_python(tmp_path, 2, np.random.default_rng(5))
    batch = cifar_batch(np.random.default_rng(6), 2)
    batch[b"extra"] = Evil()
    (tmp_path / "data_batch_3").write_bytes(pickle.dumps(batch))
    with pytest.raises(DataError, match=r"refusing to load global .*Evil") as info:
        load_cifar10(tmp_path)
    assert "data_batch_3" in str(info.value)

    marker = tmp_path / "pwned"
    # A hand-made protocol 0 pickle calling os.system: the command must never run.
    crafted = f"cos\nsystem\n(S'touch {marker}'\ntR.".encode()
    (tmp_path / "data_batch_3").write_bytes(crafted)
    with pytest.raises(DataError, match=r"refusing to load global os\.system"):
        load_cifar10(tmp_path)
    assert not marker.exists()


@pytest.mark.parametrize("content, message", [
    (b"not a pickle at all", "not a CIFAR-10 pickle"),
    (pickle.dumps([1, 2, 3]), "expected a dict"),
    (pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}),
     r"uint8 \[N, 3072\]"),
    (pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}), "labels for 2"),
    (pickle.dumps({b"data": np.zeros((2, 3072), np.uint8)}), "no 'labels'"),
])
def test_cifar10_rejects_bad_batches(tmp_path, content, message):
    write_cifar_python(tmp_path, 2, np.random.default_rng(7))
    (tmp_path / "test_batch").write_bytes(content)
    with pytest.raises(DataError, match=message):
        load_cifar10(tmp_path)
    truncated = pickle.dumps(cifar_batch(np.random.default_rng(8), 2))[:-100]
    (tmp_path / "test_batch").write_bytes(truncated)
    with pytest.raises(DataError, match="test_batch"):
        load_cifar10(tmp_path)


def test_cifar10_missing_files(tmp_path):
    with pytest.raises(DataError, match="missing CIFAR-10 file"):
        load_cifar10(tmp_path)


def test_digits_shapes_and_determinism():
    d = load_digits()
    assert d.x_train.shape == (1500, 1, 8, 8) and d.x_test.shape == (297, 1, 8, 8)
    assert d.x_train.dtype == np.uint8 and d.y_train.dtype == np.int64
    assert d.x_train.max() == 255 and d.x_train.min() == 0
    assert set(d.y_train.tolist()) == set(range(10))
    again = load_image_dataset("digits")
    np.testing.assert_array_equal(d.x_test, again.x_test)
    np.testing.assert_array_equal(d.y_train, again.y_train)


def test_dispatch_errors():
    with pytest.raises(ConfigError, match="allowed: fashion_mnist, mnist, cifar10, digits"):
        load_image_dataset("imagenet")
    for name in ("mnist", "cifar10"):
        with pytest.raises(ConfigError, match="needs a path"):
            load_image_dataset(name)
    with pytest.raises(ConfigError, match="takes no path"):
        load_image_dataset("digits", "/tmp")
    with pytest.raises(DataError, match="apt-get install"):
        load_image_dataset("fashion-mnist", "/nonexistent/fashion")


@pytest.mark.skipif(not FASHION_ROOT.exists(), reason="dataset-fashion-mnist is not installed")
def test_real_fashion_mnist():
    d = load_image_dataset("fashion-mnist")
    assert d.name == "fashion_mnist" and d.classes == FASHION_MNIST_CLASSES
    assert d.x_train.shape == (60000, 1, 28, 28) and d.x_test.shape == (10000, 1, 28, 28)
    assert d.y_train.shape == (60000,) and d.y_test.shape == (10000,)
    assert d.x_train.dtype == np.uint8 and d.y_train.dtype == np.int64
    assert np.bincount(d.y_train).tolist() == [6000] * 10
    assert np.bincount(d.y_test).tolist() == [1000] * 10
    assert d.x_train.max() == 255 and d.x_train[0].std() > 0
