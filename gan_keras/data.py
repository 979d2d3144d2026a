"""Loading image datasets and turning them into batches for `fit`.

Taught in `notebooks/03_dcgan_mnist.ipynb` (step 0: the data).

Every loader returns float32 images in NHWC layout scaled to [-1, 1] (the
range of a generator's `tanh` output) and integer labels. Three sources:

- ``"keras"``: the full dataset through `keras.datasets` (cached in
  ``~/.keras/datasets`` or downloaded);
- ``"bundled"``: the 5,000-digit MNIST sample shipped inside this package, so
  that everything works offline;
- ``"auto"``: Keras when it can, otherwise one clear message and the bundled
  sample. A download is only attempted after a reachability check bounded to a
  few seconds, so an offline classroom never hangs.

A fourth source, ``"idx"``, reads MNIST-format IDX files (``*-idx3-ubyte.gz``)
from a folder you name with ``data_dir``.
"""

from __future__ import annotations

import gzip
import os
import socket
import sys
import threading
from importlib import resources
from pathlib import Path

import numpy as np

from gan_keras._validation import check_choice, check_positive_int

DATASETS = ("mnist", "fashion_mnist")
SOURCES = ("auto", "keras", "bundled", "idx")
SPLITS = ("train", "test")

# Where keras.datasets downloads from; used only for the reachability check.
DOWNLOAD_HOST = ("storage.googleapis.com", 443)
OFFLINE_ENV = "GAN_KERAS_OFFLINE"

# Files that keras.datasets leaves in its cache, per dataset.
_KERAS_CACHE_FILES = {
    "mnist": ["mnist.npz"],
    "fashion_mnist": [
        "fashion-mnist/train-labels-idx1-ubyte.gz",
        "fashion-mnist/train-images-idx3-ubyte.gz",
        "fashion-mnist/t10k-labels-idx1-ubyte.gz",
        "fashion-mnist/t10k-images-idx3-ubyte.gz",
    ],
}
_IDX_PREFIX = {"train": "train", "test": "t10k"}


class DataUnavailableError(OSError):
    """Raised when a dataset cannot be had from the requested source."""


def load_images(
    name: str = "mnist",
    source: str = "auto",
    *,
    split: str = "train",
    max_images: int | None = None,
    data_dir: str | os.PathLike | None = None,
    timeout: float = 5.0,
    verbose: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Load a 28x28 grayscale image dataset scaled to [-1, 1].

    Args:
        name: ``"mnist"`` or ``"fashion_mnist"``.
        source: ``"auto"``, ``"keras"``, ``"bundled"`` or ``"idx"`` (see the module doc).
        split: ``"train"`` or ``"test"``. The bundled sample has only ``"train"``.
        max_images: keep only the first this many images (after loading).
        data_dir: folder holding IDX files, for ``source="idx"``.
        timeout: seconds allowed for the check that the download host is reachable.
        verbose: print the message that says which source was used on fallback.

    Returns:
        ``(images, labels)``: float32 ``[N, 28, 28, 1]`` in [-1, 1] and int32 ``[N]``.
    """
    check_choice("name", name, DATASETS)
    check_choice("source", source, SOURCES)
    check_choice("split", split, SPLITS)
    if max_images is not None:
        check_positive_int("max_images", max_images)

    if source == "keras":
        raw_images, raw_labels = _load_from_keras(name, split, timeout)
    elif source == "bundled":
        raw_images, raw_labels = _load_bundled(name, split)
    elif source == "idx":
        raw_images, raw_labels = load_idx(data_dir, split)
    else:
        raw_images, raw_labels = _load_auto(name, split, timeout, verbose)

    if max_images is not None:
        raw_images, raw_labels = raw_images[:max_images], raw_labels[:max_images]
    return scale_images(raw_images), raw_labels.astype(np.int32)


def scale_images(raw_images: np.ndarray) -> np.ndarray:
    """Map uint8 pixels [0, 255] to float32 [-1, 1] with a channel axis (NHWC)."""
    images = raw_images.astype(np.float32) / 127.5 - 1.0
    if images.ndim == 3:
        images = images[..., np.newaxis]
    return images


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Map images in [-1, 1] back to uint8 pixels [0, 255] (clipping first)."""
    images = np.clip(np.asarray(images, dtype=np.float32), -1.0, 1.0)
    return np.round((images + 1.0) * 127.5).astype(np.uint8)


# Iterators Keras' `fit` makes over a `tf.data.Dataset` of known length per epoch (see make_dataset).
_ITERATORS_PER_EPOCH = 2


def make_dataset(
    images: np.ndarray,
    labels: np.ndarray | None = None,
    *,
    batch_size: int = 64,
    seed: int | None = 0,
    shuffle: bool = True,
    drop_remainder: bool = True,
    start_epoch: int = 0,
):
    """Build the batches `fit` trains on: a `tf.data` pipeline (cache, shuffle,
    batch, prefetch) on the TensorFlow backend, `ArrayBatches` (a
    `keras.utils.PyDataset` over the arrays) on JAX and PyTorch.

    Args:
        images: float array ``[N, H, W, C]`` scaled to [-1, 1].
        labels: optional int array ``[N]``; when given the dataset yields
            ``(images, labels)`` batches, as a conditional GAN needs.
        batch_size: images per batch.
        seed: shuffle seed, so that an epoch's order is repeatable.
        shuffle: reshuffle every epoch.
        drop_remainder: drop the last short batch, so every step sees the same
            batch size (one compiled graph, comparable losses).
        start_epoch: the epoch (counted from 0) of the first pass over the
            data: a `fit` resumed after `start_epoch` finished epochs (with
            ``initial_epoch=start_epoch``) then sees the order an uninterrupted
            `fit` has from that epoch on.

    Returns:
        A `tf.data.Dataset`, or a `gan_keras.array_batches.ArrayBatches`.
    """
    images = check_images(images)
    batch_size = check_positive_int("batch_size", batch_size)
    start_epoch = check_positive_int("start_epoch", start_epoch, minimum=0)
    if drop_remainder and batch_size > len(images):
        raise ValueError(
            f"`batch_size` ({batch_size}) is larger than the number of images "
            f"({len(images)}); with drop_remainder=True no batch would be produced"
        )
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (len(images),):
            raise ValueError(
                f"`labels` must have shape ({len(images)},) to match `images`, got {labels.shape}"
            )
        if not np.issubdtype(labels.dtype, np.integer):
            raise TypeError(f"`labels` must hold integers, got dtype {labels.dtype}")
        labels = labels.astype(np.int32)
    import keras

    if keras.backend.backend() != "tensorflow":
        from gan_keras.array_batches import ArrayBatches

        batches = ArrayBatches(images, labels, batch_size, seed=seed, shuffle=shuffle, drop_remainder=drop_remainder)
        batches.set_epoch(start_epoch)
        return batches
    import tensorflow as tf

    if labels is not None:
        dataset = tf.data.Dataset.from_tensor_slices((images, labels))
    else:
        dataset = tf.data.Dataset.from_tensor_slices(images)
    # cache() before shuffle(): the decoded tensors are kept, the order is new each epoch.
    dataset = dataset.cache()
    if shuffle:
        dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
        # Each new iterator over it draws the next order from the seed. `fit`
        # makes two per epoch on a dataset of known length (it makes the next
        # epoch's at the end of one, then a fresh one when that epoch begins:
        # keras/src/trainers/epoch_iterator.py). Making, and dropping unread,
        # as many per finished epoch gives a resumed `fit` the uninterrupted
        # run's orders (tests/test_data.py holds this to Keras' `fit`).
        for _ in range(_ITERATORS_PER_EPOCH * start_epoch):
            iter(dataset)
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    return dataset.prefetch(tf.data.AUTOTUNE)


def check_images(images) -> np.ndarray:
    """Return `images` as float32 after checking rank, dtype and the [-1, 1] range."""
    if not isinstance(images, np.ndarray):
        raise TypeError(f"`images` must be a NumPy array, got {type(images).__name__}")
    if images.ndim != 4:
        raise ValueError(
            f"`images` must have rank 4 [N, height, width, channels], got shape {images.shape}"
        )
    if not np.issubdtype(images.dtype, np.floating):
        raise ValueError(
            f"`images` must be floats scaled to [-1, 1], got dtype {images.dtype}; "
            "use gan_keras.data.scale_images() on uint8 pixels"
        )
    low, high = float(images.min()), float(images.max())
    if low < -1.0 - 1e-6 or high > 1.0 + 1e-6:
        raise ValueError(
            f"`images` must be scaled to [-1, 1], got values in [{low:.3g}, {high:.3g}]; "
            "use gan_keras.data.scale_images() on uint8 pixels"
        )
    return images.astype(np.float32, copy=False)


def check_training_data(data, example_shape: tuple, bounded: bool = True, name: str = "x") -> None:
    """Check what is about to be passed to `fit`, before Keras turns a mistake
    into a shape error deep inside the graph.

    Args:
        data: a NumPy array of examples, a tuple/list whose first item is one,
            a `tf.data.Dataset` yielding batches (or ``(batch, labels)``), or
            `ArrayBatches` from `make_dataset`.
        example_shape: the shape of one example (the generator's output shape).
        bounded: the examples must lie in [-1, 1] (a tanh generator can make
            nothing else, so D would separate real from fake by range alone).
            A dataset is range-checked on its first batch.
        name: the argument's name in messages.

    Raises:
        TypeError: not an array or a dataset, or not floating point.
        ValueError: wrong rank, wrong example shape, or out of range.
    """
    example_shape = tuple(int(side) for side in example_shape)
    wanted = f"[batch, {', '.join(str(side) for side in example_shape)}]"
    if is_array_batches(data):
        shape, dtype, values = (data.batch_size,) + data.images.shape[1:], data.images.dtype.name, data.images
    elif is_tf_dataset(data):
        spec = data.element_spec
        spec = spec[0] if isinstance(spec, (tuple, list)) else spec
        shape, dtype = tuple(spec.shape), spec.dtype.name
        first = next(iter(data.take(1)), None) if bounded else None
        if isinstance(first, (tuple, list)):
            first = first[0]
        values = None if first is None else np.asarray(first)
    else:
        values = data[0] if isinstance(data, (tuple, list)) else data
        if not isinstance(values, np.ndarray):
            raise TypeError(f"`{name}` must be a NumPy array or a tf.data.Dataset, got {type(values).__name__}")
        shape, dtype = values.shape, values.dtype.name
    if len(shape) != len(example_shape) + 1 or tuple(shape[1:]) != example_shape:
        raise ValueError(f"`{name}` must have shape {wanted} to match the generator's output, got {list(shape)}")
    if not np.issubdtype(np.dtype(dtype), np.floating):
        raise TypeError(
            f"`{name}` must be floating point, got dtype {dtype}; use gan_keras.data.scale_images() on uint8 pixels"
        )
    if bounded and values is not None and values.size:
        low, high = float(values.min()), float(values.max())
        if low < -1.0 - 1e-6 or high > 1.0 + 1e-6:
            raise ValueError(
                f"`{name}` must be scaled to [-1, 1] like the generator's tanh output, got values in "
                f"[{low:.3g}, {high:.3g}]; use gan_keras.data.scale_images() on uint8 pixels"
            )


def checked_fit_arguments(x, example_shape: tuple, fit_kwargs: dict, bounded: bool = True) -> dict:
    """`check_training_data` on what `fit` is about to get, and its keyword
    arguments with ``shuffle=False`` by default for a dataset: a dataset
    shuffles itself (`make_dataset` does), and Keras ignores `shuffle` for
    one but warns on every call unless it is False."""
    check_training_data(x, example_shape, bounded=bounded)
    if is_tf_dataset(x) or is_array_batches(x):
        fit_kwargs = {"shuffle": False, **fit_kwargs}
    return fit_kwargs


def is_array_batches(data) -> bool:
    """Whether `data` is `ArrayBatches` from `make_dataset` (without importing Keras)."""
    batches = sys.modules.get("gan_keras.array_batches")
    return batches is not None and isinstance(data, batches.ArrayBatches)


def is_tf_dataset(data) -> bool:
    """Whether `data` is a `tf.data.Dataset` (without importing TensorFlow)."""
    tf = sys.modules.get("tensorflow")
    return tf is not None and isinstance(data, tf.data.Dataset)


def load_idx(data_dir: str | os.PathLike | None, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Read MNIST-format IDX files (gzip) from a folder.

    Args:
        data_dir: folder with ``{train,t10k}-images-idx3-ubyte.gz`` and the
            matching ``-labels-idx1-ubyte.gz`` file.
        split: ``"train"`` or ``"test"`` (``t10k`` files).

    Returns:
        ``(images, labels)`` as uint8 arrays ``[N, 28, 28]`` and ``[N]``.
    """
    if data_dir is None:
        raise ValueError("`data_dir` is required with source='idx': name the folder holding the IDX files")
    check_choice("split", split, SPLITS)
    folder = Path(data_dir)
    prefix = _IDX_PREFIX[split]
    image_path = folder / f"{prefix}-images-idx3-ubyte.gz"
    label_path = folder / f"{prefix}-labels-idx1-ubyte.gz"
    for path in (image_path, label_path):
        if not path.is_file():
            raise FileNotFoundError(f"`data_dir`: no file {path} for split={split!r}")
    images = _read_idx(image_path, expected_magic=2051)
    labels = _read_idx(label_path, expected_magic=2049)
    if len(images) != len(labels):
        raise ValueError(f"{image_path} holds {len(images)} images but {label_path} {len(labels)} labels")
    return images, labels


def save_idx(data_dir: str | os.PathLike, images, labels, split: str = "train") -> Path:
    """Write images and labels as MNIST-format IDX files, the inverse of `load_idx`.

    For example, to train on a bigger or custom set with ``source="idx"``
    (benchmarks/gpu_check.py tiles the bundled sample into a 60,000-image epoch).

    Args:
        data_dir: the folder to write into (made if missing).
        images: uint8 ``[N, 28, 28]`` (or ``[N, 28, 28, 1]``).
        labels: integer classes ``[N]`` in 0..255.
        split: ``"train"`` or ``"test"`` (``t10k`` files).

    Returns:
        The folder.
    """
    check_choice("split", split, SPLITS)
    images, labels = np.asarray(images), np.asarray(labels)
    if images.dtype != np.uint8:
        raise TypeError(f"`images` must be uint8 (to_uint8 converts [-1, 1] floats), got {images.dtype}")
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3 or labels.shape != (len(images),):
        raise ValueError(f"`images` must be [N, H, W] with one label each, got shapes {images.shape} and {labels.shape}")
    folder = Path(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    prefix = _IDX_PREFIX[split]
    _write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)
    _write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels.astype(np.uint8))
    return folder


def _write_idx(path: Path, array: np.ndarray) -> None:
    # IDX: a zero-filled magic whose third byte is the type (8: unsigned byte)
    # and fourth the rank, then each dimension as a big-endian int32.
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(dim).to_bytes(4, "big") for dim in array.shape)
    # Fast compression: level 9 (gzip's default) takes ~20 s for 60,000 digits on a slow CPU, 1 a second or two.
    with gzip.open(path, "wb", compresslevel=1) as handle:
        handle.write(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def _read_idx(path: Path, expected_magic: int) -> np.ndarray:
    with gzip.open(path, "rb") as handle:
        data = handle.read()
    magic = int.from_bytes(data[0:4], "big")
    if magic != expected_magic:
        raise ValueError(f"{path} is not an IDX file of the expected kind (magic {magic}, expected {expected_magic})")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _load_bundled(name: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    if name != "mnist":
        raise DataUnavailableError(
            f"no bundled sample of {name!r}: only 'mnist' ships with gan_keras; "
            f"use source='keras' (needs the Keras cache or a network connection)"
        )
    if split != "train":
        raise ValueError(
            f"`split`: the bundled MNIST sample has only split='train', got {split!r}; "
            "hold out part of it yourself, or use source='keras' or 'idx' for the test split"
        )
    with resources.files("gan_keras").joinpath("data_files/mnist_5k.npz").open("rb") as handle:
        with np.load(handle) as archive:
            return archive["images"], archive["labels"]


def keras_cache_dir() -> Path:
    """The folder `keras.datasets` caches into (``$KERAS_HOME/datasets``)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets"


def _in_keras_cache(name: str) -> bool:
    cache = keras_cache_dir()
    return all((cache / relative).is_file() for relative in _KERAS_CACHE_FILES[name])


def host_reachable(address: tuple[str, int] = DOWNLOAD_HOST, timeout: float = 5.0) -> bool:
    """Whether a TCP connection to `address` opens within `timeout` seconds.

    Name resolution ignores socket timeouts and can hang for minutes on some
    offline networks, so the attempt runs in a daemon thread that we stop
    waiting for after `timeout`.
    """
    if os.environ.get(OFFLINE_ENV, "").strip() not in ("", "0"):
        return False
    result = {"ok": False}

    def attempt() -> None:
        try:
            with socket.create_connection(address, timeout=timeout):
                result["ok"] = True
        except OSError:
            pass

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(timeout)
    return result["ok"]


def _load_from_keras(name: str, split: str, timeout: float) -> tuple[np.ndarray, np.ndarray]:
    if not _in_keras_cache(name) and not host_reachable(timeout=timeout):
        raise DataUnavailableError(
            f"{name!r} is not in the Keras cache ({keras_cache_dir()}) and the download host "
            f"{DOWNLOAD_HOST[0]} could not be reached within {timeout:g} s"
        )
    import keras

    module = getattr(keras.datasets, name)
    (x_train, y_train), (x_test, y_test) = module.load_data()
    return (x_train, y_train) if split == "train" else (x_test, y_test)


def _load_auto(name: str, split: str, timeout: float, verbose: bool) -> tuple[np.ndarray, np.ndarray]:
    try:
        return _load_from_keras(name, split, timeout)
    except Exception as error:  # any failure of the download/cache path means "use the sample"
        if name != "mnist":
            raise DataUnavailableError(
                f"could not load {name!r} through keras.datasets ({error}); "
                "there is no bundled copy of it, only of 'mnist'"
            ) from error
        if verbose:
            print(
                f"gan_keras: keras.datasets MNIST is unavailable ({error}); "
                "using the bundled 5,000-digit sample instead.",
                file=sys.stderr,
            )
        return _load_bundled(name, split)
