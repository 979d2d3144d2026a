import os
import socket
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from conftest import SHARED_MNIST
from gan_keras import data
from gan_keras.data import DataUnavailableError, load_images, make_dataset, scale_images, to_uint8


def test_bundled_sample_is_balanced_and_scaled():
    images, labels = load_images("mnist", source="bundled")
    assert images.shape == (5000, 28, 28, 1)
    assert images.dtype == np.float32
    assert images.min() == -1.0 and images.max() == 1.0
    assert labels.dtype == np.int32
    assert np.bincount(labels).tolist() == [500] * 10


def test_max_images_keeps_the_first_images():
    everything, _ = load_images("mnist", source="bundled")
    images, labels = load_images("mnist", source="bundled", max_images=10)
    assert images.shape[0] == labels.shape[0] == 10
    np.testing.assert_array_equal(images, everything[:10])


def test_scaling_round_trips_pixels():
    pixels = np.arange(256, dtype=np.uint8).reshape(1, 16, 16)
    np.testing.assert_array_equal(to_uint8(scale_images(pixels))[..., 0], pixels)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"name": "cifar10"}, "`name` must be one of"),
        ({"source": "internet"}, "`source` must be one of"),
        ({"split": "validation"}, "`split` must be one of"),
        ({"source": "bundled", "split": "test"}, "only split='train'"),
        ({"source": "idx"}, "`data_dir` is required"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_images(**kwargs)


def test_bundled_fashion_mnist_is_a_clear_error():
    with pytest.raises(DataUnavailableError, match="only 'mnist' ships"):
        load_images("fashion_mnist", source="bundled")


def test_auto_falls_back_to_bundled_with_a_message(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # an empty Keras cache
    start = time.perf_counter()
    images, _ = load_images("mnist", source="auto")
    assert time.perf_counter() - start < 10
    assert images.shape == (5000, 28, 28, 1)
    message = capsys.readouterr().err
    assert "using the bundled 5,000-digit sample" in message


def test_keras_source_offline_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(DataUnavailableError, match="not in the Keras cache"):
        load_images("mnist", source="keras")


def test_auto_without_a_bundled_copy_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(DataUnavailableError, match="no bundled copy"):
        load_images("fashion_mnist", source="auto", verbose=False)


def test_host_reachable_sees_a_listening_socket(monkeypatch):
    monkeypatch.delenv("GAN_KERAS_OFFLINE", raising=False)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert data.host_reachable(server.getsockname(), timeout=2.0)
        closed_port = server.getsockname()
    # Nothing listens on the port once the socket is closed: refused, quickly.
    start = time.perf_counter()
    assert not data.host_reachable(closed_port, timeout=2.0)
    assert time.perf_counter() - start < 2.5


def test_offline_switch_skips_the_network(monkeypatch):
    monkeypatch.setenv("GAN_KERAS_OFFLINE", "1")
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert not data.host_reachable(server.getsockname(), timeout=2.0)


def _fake_idx_folder(folder, prefix, count, seed):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=count, dtype=np.uint8)
    data.save_idx(folder, images, labels, split="train" if prefix == "train" else "test")
    return images, labels


def test_keras_datasets_path_reads_a_cached_copy(tmp_path):
    """The real keras.datasets loader, on a fake Fashion-MNIST laid in a temporary
    Keras cache (KERAS_HOME is read when Keras is imported, hence a subprocess)."""
    cache = tmp_path / "datasets" / "fashion-mnist"
    train_images, train_labels = _fake_idx_folder(cache, "train", 12, seed=1)
    _fake_idx_folder(cache, "t10k", 5, seed=2)
    np.savez(tmp_path / "expected.npz", images=train_images, labels=train_labels)
    script = (
        "import numpy as np; from gan_keras.data import load_images, to_uint8;"
        "x, y = load_images('fashion_mnist', source='keras');"
        f"e = np.load(r'{tmp_path / 'expected.npz'}');"
        "assert x.shape == (12, 28, 28, 1), x.shape;"
        "assert (to_uint8(x)[..., 0] == e['images']).all() and (y == e['labels']).all();"
        "print('ok')"
    )
    env = {**os.environ, "KERAS_HOME": str(tmp_path), "GAN_KERAS_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("ok")


def test_idx_source_reads_files_it_is_given(tmp_path):
    images, labels = _fake_idx_folder(tmp_path, "train", 7, seed=3)
    loaded, loaded_labels = load_images("mnist", source="idx", data_dir=tmp_path)
    np.testing.assert_array_equal(to_uint8(loaded)[..., 0], images)
    np.testing.assert_array_equal(loaded_labels, labels)
    with pytest.raises(FileNotFoundError, match="t10k-images"):
        load_images("mnist", source="idx", data_dir=tmp_path, split="test")


@pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason="the shared MNIST test files are not beside the repo")
def test_idx_source_reads_the_real_mnist_test_split():
    images, labels = load_images("mnist", source="idx", data_dir=SHARED_MNIST, split="test")
    assert images.shape == (10000, 28, 28, 1)
    assert np.bincount(labels).min() > 800  # every digit is well represented


def test_make_dataset_batches_and_labels(mnist_sample):
    images, labels = mnist_sample
    batches = list(make_dataset(images, labels, batch_size=100, seed=0))
    assert len(batches) == 5  # 512 // 100, the short batch is dropped
    batch_images, batch_labels = batches[0]
    assert tuple(batch_images.shape) == (100, 28, 28, 1)
    assert tuple(batch_labels.shape) == (100,)


def test_make_dataset_order_is_repeatable_with_a_seed(mnist_sample):
    images, _ = mnist_sample
    first = next(iter(make_dataset(images, batch_size=32, seed=7))).numpy()
    again = next(iter(make_dataset(images, batch_size=32, seed=7))).numpy()
    other = next(iter(make_dataset(images, batch_size=32, seed=8))).numpy()
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


class _BatchRecorder(keras.Model):
    """Keeps every batch `fit` gives it (eagerly), and trains nothing."""

    def __init__(self):
        super().__init__()
        self.batches = []
        self.built = True

    def train_step(self, *args):
        # (data) on TensorFlow and PyTorch; (state, data) on JAX, which wants the state back.
        self.batches.append(keras.ops.convert_to_numpy(args[-1]))
        logs = {"batches": keras.ops.zeros(())}
        return (logs, args[0]) if len(args) == 2 else logs


def _epoch_orders(dataset, epochs, initial_epoch=0):
    """The images `fit` trains on in each epoch from `initial_epoch` on."""
    recorder = _BatchRecorder()
    recorder.compile(run_eagerly=True)
    recorder.fit(dataset, epochs=epochs, initial_epoch=initial_epoch, verbose=0, shuffle=False)
    per_epoch = len(recorder.batches) // (epochs - initial_epoch)
    return [np.concatenate(recorder.batches[start:start + per_epoch])
            for start in range(0, len(recorder.batches), per_epoch)]


def test_make_dataset_resumed_at_an_epoch_continues_the_uninterrupted_order(mnist_sample):
    # A fit resumed after 2 finished epochs sees epochs 2 and 3 as an uninterrupted fit does.
    images = mnist_sample[0][:32]
    straight = _epoch_orders(make_dataset(images, batch_size=8, seed=3), epochs=4)
    resumed = _epoch_orders(make_dataset(images, batch_size=8, seed=3, start_epoch=2), epochs=4, initial_epoch=2)
    assert len(straight) == 4 and len(resumed) == 2
    assert not np.array_equal(straight[2], straight[3])  # each epoch has its own order
    np.testing.assert_array_equal(resumed[0], straight[2])
    np.testing.assert_array_equal(resumed[1], straight[3])


@pytest.mark.parametrize(
    "images, error, message",
    [
        (np.zeros((4, 28, 28, 1), np.uint8), ValueError, "scaled to \\[-1, 1\\].*dtype uint8"),
        (np.zeros((4, 28, 28), np.float32), ValueError, "rank 4"),
        (np.full((4, 28, 28, 1), 255.0, np.float32), ValueError, "values in \\[255, 255\\]"),
        ([[0.0]], TypeError, "NumPy array"),
    ],
)
def test_make_dataset_rejects_bad_images(images, error, message):
    with pytest.raises(error, match=message):
        make_dataset(images, batch_size=2)


def test_make_dataset_rejects_mismatched_labels_and_huge_batches(mnist_sample):
    images, labels = mnist_sample
    with pytest.raises(ValueError, match="`labels` must have shape"):
        make_dataset(images, labels[:10])
    with pytest.raises(ValueError, match="`batch_size` \\(1000\\) is larger"):
        make_dataset(images, batch_size=1000)


def test_save_idx_writes_what_load_idx_and_train_read(tmp_path):
    raw, labels = data.load_images("mnist", source="bundled", max_images=20)
    raw = to_uint8(raw)
    data.save_idx(tmp_path, raw, labels)
    images, read_labels = data.load_idx(tmp_path)
    assert images.shape == (20, 28, 28) and (images == raw[..., 0]).all() and (read_labels == labels).all()
    scaled, _ = load_images("mnist", source="idx", data_dir=tmp_path)
    assert (to_uint8(scaled) == raw).all()
    with pytest.raises(TypeError, match="`images` must be uint8"):
        data.save_idx(tmp_path, raw.astype("float32"), labels)
    with pytest.raises(ValueError, match=r"one label each, got shapes \(20, 28, 28\) and \(3,\)"):
        data.save_idx(tmp_path, raw, labels[:3])
