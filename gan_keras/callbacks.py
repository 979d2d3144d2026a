"""Keras callbacks for GAN training: sample grids + training GIF, time budget,
divergence guard.

Taught in `notebooks/03_dcgan_mnist.ipynb` (the GIF shown inline).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import imageio.v3 as iio
import keras
import numpy as np

from gan_keras._validation import check_non_negative_float, check_positive_int
from gan_keras.gan import _labels_for, _num_classes
from gan_keras.plotting import save_image_grid


class TrainingGIF(keras.callbacks.Callback):
    """Save a grid of samples every `every` epochs and a GIF of them at the end.

    The grid is always drawn from the *same* latent vectors, so consecutive
    frames show one set of "seeds" turning from noise into digits. The final
    epoch is always saved, even when training stops early.

    Args:
        out_dir: folder for the ``epoch_XXX.png`` grids (created if missing).
        gif_path: where to write the GIF (default ``out_dir/../training.gif``);
            ``None`` writes ``training.gif`` next to ``out_dir``.
        every: save a grid every this many epochs.
        num_images: images per grid (a conditional GAN shows one column per class).
        seed: seed of the fixed latent vectors.
        frame_seconds: how long each GIF frame is shown; the last one stays 4x longer.
        tensorboard_dir: if given, each grid is also logged there as a
            TensorBoard image (tag ``samples``, step = epoch).
    """

    def __init__(
        self,
        out_dir: str | os.PathLike,
        gif_path: str | os.PathLike | None = None,
        every: int = 1,
        num_images: int = 64,
        seed: int = 0,
        frame_seconds: float = 0.4,
        tensorboard_dir: str | os.PathLike | None = None,
    ):
        super().__init__()
        self.out_dir = Path(out_dir)
        self.gif_path = Path(gif_path) if gif_path is not None else self.out_dir.parent / "training.gif"
        self.every = check_positive_int("every", every)
        self.num_images = check_positive_int("num_images", num_images)
        self.seed = seed
        self.frame_seconds = check_non_negative_float("frame_seconds", frame_seconds)
        self.tensorboard_dir = tensorboard_dir
        self._writer = None
        self.frames: list[Path] = []
        self._inputs = None
        self._ncols = None
        self._last_saved_epoch = 0
        self._epochs_seen = 0

    def on_train_begin(self, logs=None):
        generator = self.model.generator
        latent_dim = int(generator.inputs[0].shape[-1])
        noise = np.random.default_rng(self.seed).standard_normal((self.num_images, latent_dim))
        self._inputs = noise.astype(np.float32)
        if len(generator.inputs) == 2:
            num_classes = _num_classes(generator)
            self._inputs = [self._inputs, _labels_for(self.num_images, None, num_classes)]
            self._ncols = num_classes
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if self.tensorboard_dir is not None:
            import tensorflow as tf

            self._writer = tf.summary.create_file_writer(str(Path(self.tensorboard_dir) / "samples"))

    def on_epoch_end(self, epoch, logs=None):
        self._epochs_seen = epoch + 1
        if (epoch + 1) % self.every == 0:
            self.save_grid(epoch + 1)

    def on_train_end(self, logs=None):
        if self._epochs_seen and self._last_saved_epoch != self._epochs_seen:
            self.save_grid(self._epochs_seen)
        if self.frames:
            self.write_gif()
        if self._writer is not None:
            self._writer.close()

    def save_grid(self, epoch: int) -> Path:
        """Render the fixed latent vectors with the current generator to a PNG."""
        images = keras.ops.convert_to_numpy(self.model.generator(self._inputs, training=False))
        path = self.out_dir / f"epoch_{epoch:03d}.png"
        save_image_grid(images, path, title=f"epoch {epoch}", ncols=self._ncols)
        if self._writer is not None:
            import tensorflow as tf

            with self._writer.as_default():
                tf.summary.image("samples", iio.imread(path)[np.newaxis, ..., :3], step=epoch)
        self.frames.append(path)
        self._last_saved_epoch = epoch
        return path

    def write_gif(self) -> Path:
        """Write every saved grid, in order, as one looping GIF."""
        frames = [iio.imread(path) for path in self.frames]
        durations = [self.frame_seconds * 1000] * len(frames)
        durations[-1] *= 4  # linger on the final result
        # Pillow wants a plain number, not a list, for a one-frame GIF.
        duration = durations if len(frames) > 1 else durations[0]
        self.gif_path.parent.mkdir(parents=True, exist_ok=True)
        iio.imwrite(self.gif_path, np.stack(frames), extension=".gif", duration=duration, loop=0)
        return self.gif_path


class TimeBudget(keras.callbacks.Callback):
    """Stop training after the epoch in which `max_seconds` of wall time ran out.

    Stopping between epochs (never mid-epoch) keeps every epoch-level output
    (history, sample grids) complete and consistent.

    Args:
        max_seconds: the budget, counted from the start of `fit`.
    """

    def __init__(self, max_seconds: float):
        super().__init__()
        self.max_seconds = check_non_negative_float("max_seconds", max_seconds)
        self.stopped_epoch: int | None = None
        self._start = None

    def on_train_begin(self, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if time.perf_counter() - self._start >= self.max_seconds:
            self.model.stop_training = True
            self.stopped_epoch = epoch + 1


class DivergenceGuard(keras.callbacks.Callback):
    """Stop when a loss becomes NaN or infinite, and roll back to the last good epoch.

    A diverged GAN never recovers, and its NaN weights would overwrite the
    generator worth keeping. After every finite epoch the weights are copied
    (in memory); on a non-finite loss training stops, the copy is restored and
    `message` says which epoch and which loss.
    """

    def __init__(self):
        super().__init__()
        self.message: str | None = None
        self.diverged_epoch: int | None = None
        self._good_weights = None

    def on_train_begin(self, logs=None):
        self._good_weights = self.model.get_weights()

    def on_epoch_end(self, epoch, logs=None):
        bad = {key: value for key, value in (logs or {}).items() if key.endswith("loss") and not np.isfinite(value)}
        if not bad:
            self._good_weights = self.model.get_weights()
            return
        key, value = next(iter(bad.items()))
        self.diverged_epoch = epoch + 1
        self.message = (
            f"training diverged in epoch {epoch + 1}: {key} is {value}; stopped and kept the weights "
            f"from {'before training' if epoch == 0 else f'the end of epoch {epoch}'}"
        )
        self.model.set_weights(self._good_weights)
        self.model.stop_training = True
