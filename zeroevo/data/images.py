"""Image data sets for neural genomes, read from files already on disk.

Nothing here downloads. A search run must be reproducible offline and must not depend on
a mirror being up, on what a URL serves today, or on network access inside workers (a
Dask worker or a CI box often has none). So every loader reads standard files that were
installed ahead of time: Fashion-MNIST from the Debian package ``dataset-fashion-mnist``,
MNIST and CIFAR-10 from a directory the user names, and scikit-learn's ``digits``, which
ships inside the scikit-learn wheel. A missing file is a :class:`DataError` that says how
to get it, never a silent fetch.

Every loader returns an :class:`ImageData` with uint8 images ``[N, C, H, W]`` and int64
labels; scaling and normalisation belong to the trainer. Corrupt, truncated or foreign
files raise :class:`DataError` with one line that names the file and the problem. The
CIFAR-10 "python version" is a set of pickles; they are read with an unpickler that only
resolves the few numpy globals those files use, so a crafted file cannot run code.
"""
from __future__ import annotations

import gzip
import importlib
import pickle
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from zeroevo.core.errors import ConfigError, DataError

__all__ = [
    "ImageData",
    "read_idx",
    "load_fashion_mnist",
    "load_mnist",
    "load_cifar10",
    "load_digits",
    "load_image_dataset",
]

FASHION_MNIST_ROOT = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
DIGIT_CLASSES = tuple(str(d) for d in range(10))
DIGITS_N_TRAIN = 1500

# IDX type codes (big-endian on disk); 0x0A is not assigned by the format.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_IDX_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
              "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
_CIFAR_SIDE, _CIFAR_RECORD = 32, 3 * 32 * 32
# What decompressing or parsing a damaged file can raise; converted to DataError.
_READ_ERRORS = (OSError, EOFError, gzip.BadGzipFile, zlib.error, ValueError)


@dataclass(frozen=True)
class ImageData:
    """A labelled image classification data set split into train and test.

    Images are uint8 ``[N, C, H, W]``; labels are int64 ``[N]`` indexing ``classes``.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: tuple[str, ...]


def _read_bytes(path: Path) -> bytes:
    """Return the file's bytes, gunzipped when it starts with the gzip magic 1f 8b."""
    try:
        raw = path.read_bytes()
        return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    except _READ_ERRORS as exc:
        raise DataError(f"{path}: cannot read ({type(exc).__name__}: {exc})") from None


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (the MNIST format), gzip-compressed or raw, as a native array.

    Raises DataError naming the file when it is missing, truncated, too long or foreign.
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise DataError(f"{path}: not an IDX file ({len(data)} bytes, header needs 4)")
    if data[0] != 0 or data[1] != 0:
        raise DataError(f"{path}: not an IDX file (magic {data[:4].hex()} "
                        "does not start with two zero bytes)")
    code, ndim = data[2], data[3]
    if code not in _IDX_DTYPES:
        raise DataError(f"{path}: unknown IDX type code 0x{code:02X} "
                        f"(allowed: {', '.join(f'0x{c:02X}' for c in _IDX_DTYPES)})")
    if ndim == 0:
        raise DataError(f"{path}: IDX header declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path}: truncated IDX header ({len(data)} bytes, needs {header})")
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[code])
    expected = header + dtype.itemsize * int(np.prod(shape, dtype=object))
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "has trailing bytes"
        raise DataError(f"{path}: IDX file {what}: header {shape} needs {expected} bytes, "
                        f"file has {len(data)}")
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return arr.astype(dtype.newbyteorder("="))


def _check_labels(labels: np.ndarray, n: int, n_classes: int, where: str) -> np.ndarray:
    """Validate a label vector against the image count and class count; return int64."""
    labels = np.asarray(labels)
    if labels.shape != (n,):
        raise DataError(f"{where}: {labels.shape} labels for {n} images")
    if n and (labels.min() < 0 or labels.max() >= n_classes):
        raise DataError(f"{where}: labels must lie in 0..{n_classes - 1}, "
                        f"found {labels.min()}..{labels.max()}")
    return labels.astype(np.int64)


def _find_idx(root: Path, name: str, hint: str) -> Path:
    """Return ``root/name.gz`` or ``root/name``, else raise DataError with ``hint``."""
    for candidate in (root / f"{name}.gz", root / name):
        if candidate.is_file():
            return candidate
    raise DataError(f"{root}: missing {name}[.gz]; {hint}")


def _load_idx_set(name: str, root: Path, classes: tuple[str, ...], hint: str) -> ImageData:
    """Load the four MNIST-layout IDX files under ``root`` into an ImageData."""
    paths = [_find_idx(root, n, hint) for n in _IDX_NAMES]
    arrays = []
    for img_path, lab_path in (paths[:2], paths[2:]):
        images, labels = read_idx(img_path), read_idx(lab_path)
        if images.ndim != 3 or images.dtype != np.uint8:
            raise DataError(f"{img_path}: expected uint8 images [N, H, W], "
                            f"found {images.dtype} {images.shape}")
        if labels.ndim != 1:
            raise DataError(f"{lab_path}: expected labels [N], found shape {labels.shape}")
        where = f"{lab_path.name} vs {img_path.name} in {root}"
        arrays += [images[:, None], _check_labels(labels, len(images), len(classes), where)]
    return ImageData(name, *arrays, classes=classes)


def load_fashion_mnist(root: str | Path | None = None) -> ImageData:
    """Load Fashion-MNIST (60000 train / 10000 test, 1x28x28) from its IDX files.

    ``root`` defaults to where Debian's ``dataset-fashion-mnist`` package installs them.
    """
    root = FASHION_MNIST_ROOT if root is None else Path(root)
    hint = ("install it with `apt-get install dataset-fashion-mnist` "
            "or pass the directory that holds the Fashion-MNIST IDX files")
    return _load_idx_set("fashion_mnist", root, FASHION_MNIST_CLASSES, hint)


def load_mnist(root: str | Path) -> ImageData:
    """Load MNIST from the directory holding its four IDX files (gzipped or not)."""
    hint = "pass the directory that holds the MNIST IDX files (train-images-idx3-ubyte.gz ...)"
    return _load_idx_set("mnist", Path(root), DIGIT_CLASSES, hint)


def _numpy_global(submodule: str, name: str) -> Callable[[], Any]:
    """Resolve ``numpy._core.<submodule>.<name>`` (numpy 2) or ``numpy.core...`` (numpy 1)."""
    def resolve() -> Any:
        try:
            module = importlib.import_module(f"numpy._core.{submodule}")
        except ImportError:
            module = importlib.import_module(f"numpy.core.{submodule}")
        return getattr(module, name)
    return resolve


# Exactly what CIFAR-10 batches need: pickled numpy arrays (old and new numpy module
# names; protocol 5 arrays use _frombuffer) and, for protocol 2 written by Python 3,
# bytes encoded through _codecs. Anything else could run code at load time.
_ALLOWED_GLOBALS: dict[tuple[str, str], Callable[[], Any]] = {
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
    ("_codecs", "encode"): lambda: importlib.import_module("_codecs").encode,
}
for _pkg in ("numpy.core", "numpy._core"):
    _ALLOWED_GLOBALS[(f"{_pkg}.multiarray", "_reconstruct")] = _numpy_global(
        "multiarray", "_reconstruct")
    _ALLOWED_GLOBALS[(f"{_pkg}.numeric", "_frombuffer")] = _numpy_global(
        "numeric", "_frombuffer")


class _RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the numpy globals a CIFAR-10 batch contains."""

    def __init__(self, file: Any, path: Path) -> None:
        super().__init__(file, encoding="bytes")
        self.path = path

    def find_class(self, module: str, name: str) -> Any:
        """Return an allowed global; refuse every other one with DataError."""
        resolve = _ALLOWED_GLOBALS.get((module, name))
        if resolve is None:
            raise DataError(f"{self.path}: refusing to load global {module}.{name} "
                            "(a CIFAR-10 batch holds only numpy arrays, lists and strings)")
        return resolve()


def _load_pickle(path: Path) -> dict[str, Any]:
    """Unpickle one CIFAR-10 batch safely; return it with str keys."""
    try:
        with path.open("rb") as f:
            obj = _RestrictedUnpickler(f, path).load()
    # A damaged pickle can fail in any of these ways; DataError passes through untouched.
    except (pickle.UnpicklingError, EOFError, OSError, ValueError, TypeError, KeyError,
            IndexError, AttributeError, OverflowError, MemoryError) as exc:
        raise DataError(f"{path}: not a CIFAR-10 pickle ({type(exc).__name__}: {exc})") from None
    if not isinstance(obj, dict):
        raise DataError(f"{path}: expected a dict, found {type(obj).__name__}")
    return {k.decode("latin1") if isinstance(k, bytes) else str(k): v for k, v in obj.items()}


def _cifar_python_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read one python-version batch as (images [N,3,32,32], labels [N])."""
    batch = _load_pickle(path)
    data, labels = batch.get("data"), batch.get("labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != _CIFAR_RECORD:
        is_array = isinstance(data, np.ndarray)
        desc = f"{data.dtype} {data.shape}" if is_array else type(data).__name__
        raise DataError(f"{path}: 'data' must be uint8 [N, {_CIFAR_RECORD}], found {desc}")
    if labels is None:
        raise DataError(f"{path}: no 'labels' entry")
    try:
        labels = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        raise DataError(f"{path}: 'labels' is not a list of integers") from None
    labels = _check_labels(labels, len(data), 10, str(path))
    return data.reshape(-1, 3, _CIFAR_SIDE, _CIFAR_SIDE), labels


def _cifar_binary_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read one binary-version batch: records of 1 label byte + 3072 pixel bytes."""
    try:
        raw = np.frombuffer(path.read_bytes(), dtype=np.uint8)
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc})") from None
    record = 1 + _CIFAR_RECORD
    if raw.size == 0 or raw.size % record:
        raise DataError(f"{path}: size {raw.size} is not a positive multiple of the "
                        f"{record}-byte CIFAR-10 record (truncated or foreign)")
    rows = raw.reshape(-1, record)
    labels = _check_labels(rows[:, 0], len(rows), 10, str(path))
    return rows[:, 1:].reshape(-1, 3, _CIFAR_SIDE, _CIFAR_SIDE).copy(), labels


def _cifar_classes(meta: Path, binary: bool) -> tuple[str, ...]:
    """Class names from batches.meta(.txt) when present, else the standard ten."""
    if not meta.is_file():
        return CIFAR10_CLASSES
    if binary:
        names = [n.strip() for n in meta.read_text("latin1").splitlines() if n.strip()]
    else:
        names = _load_pickle(meta).get("label_names", [])
        names = [n.decode("latin1") if isinstance(n, bytes) else str(n) for n in names]
    if len(names) != 10:
        raise DataError(f"{meta}: expected 10 class names, found {len(names)}")
    return tuple(names)


def load_cifar10(root: str | Path) -> ImageData:
    """Load CIFAR-10 (3x32x32) from its python-version or binary-version directory.

    ``root`` may be the batches directory itself or its parent holding
    ``cifar-10-batches-py`` / ``cifar-10-batches-bin``.
    """
    root = Path(root)
    for sub in ("cifar-10-batches-py", "cifar-10-batches-bin"):
        if (root / sub).is_dir():
            root = root / sub
            break
    binary = (root / "data_batch_1.bin").is_file()
    suffix, read = (".bin", _cifar_binary_batch) if binary else ("", _cifar_python_batch)
    names = [f"data_batch_{i}{suffix}" for i in range(1, 6)] + [f"test_batch{suffix}"]
    missing = [n for n in names if not (root / n).is_file()]
    if missing:
        raise DataError(f"{root}: missing CIFAR-10 file(s) {', '.join(missing)}; pass the "
                        "directory holding data_batch_1..5 and test_batch (python or binary)")
    parts = [read(root / n) for n in names]
    x_train = np.concatenate([x for x, _ in parts[:5]])
    y_train = np.concatenate([y for _, y in parts[:5]])
    meta = root / ("batches.meta.txt" if binary else "batches.meta")
    return ImageData("cifar10", x_train, y_train, parts[5][0], parts[5][1],
                     _cifar_classes(meta, binary))


def load_digits() -> ImageData:
    """Load scikit-learn's bundled 8x8 digits (1797 images), scaled from 0..16 to 0..255.

    The split is fixed: a permutation from ``np.random.default_rng(0)``, the first
    1500 images for training and the remaining 297 for testing.
    """
    from sklearn.datasets import load_digits as sk_load_digits  # slow import; only here

    bunch = sk_load_digits()
    images = np.rint(bunch.images * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)[:, None]
    labels = bunch.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(images))
    train, test = order[:DIGITS_N_TRAIN], order[DIGITS_N_TRAIN:]
    return ImageData("digits", images[train], labels[train], images[test], labels[test],
                     DIGIT_CLASSES)


_LOADERS: dict[str, Callable[..., ImageData]] = {
    "fashion_mnist": load_fashion_mnist,
    "mnist": load_mnist,
    "cifar10": load_cifar10,
    "digits": load_digits,
}
_ALIASES = {"fashion-mnist": "fashion_mnist"}
_NEEDS_PATH = ("mnist", "cifar10")


def load_image_dataset(name: str, path: str | Path | None = None) -> ImageData:
    """Load a data set by name: fashion_mnist (or fashion-mnist), mnist, cifar10, digits.

    ``path`` is the directory of the files: mnist and cifar10 require it, fashion_mnist
    defaults to the Debian package's directory, digits (bundled) takes none.
    """
    key = _ALIASES.get(name, name)
    if key not in _LOADERS:
        raise ConfigError(f"unknown dataset {name!r}; allowed: "
                          f"{', '.join([*_LOADERS, *_ALIASES])}")
    if key == "digits":
        if path is not None:
            raise ConfigError("dataset 'digits' is bundled with scikit-learn and takes no path")
        return load_digits()
    if path is None and key in _NEEDS_PATH:
        raise ConfigError(f"dataset {name!r} needs a path: the directory holding its files "
                          "(zeroevo never downloads data)")
    return _LOADERS[key](path)
