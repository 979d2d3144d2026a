"""Keras callbacks for GAN training: sample grids + training GIF, time budget,
divergence guard, and the backup that lets an interrupted run resume.

Taught in `notebooks/03_dcgan_mnist.ipynb` (the GIF shown inline).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import imageio.v3 as iio
import keras
import numpy as np

from gan_keras._validation import check_non_negative_float, check_positive_int
from gan_keras.averaging import sampling_generator
from gan_keras.gan import _labels_for, _num_classes, is_conditional
from gan_keras.plotting import save_image_grid


def non_finite_losses(logs: dict | None) -> dict:
    """The losses in an epoch's `logs` that are NaN or infinite (empty if none).

    An epoch with such a loss diverged: `DivergenceGuard` rolls its weights
    back, and the other callbacks do not record it as a finished epoch.
    """
    return {key: value for key, value in (logs or {}).items() if key.endswith("loss") and not np.isfinite(value)}


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
        if tensorboard_dir is not None and keras.backend.backend() != "tensorflow":
            raise ValueError(
                "`tensorboard_dir` needs the TensorFlow backend (grids are logged with tf.summary); "
                f"KERAS_BACKEND is {keras.backend.backend()!r}"
            )
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
        if is_conditional(generator):
            num_classes = _num_classes(generator)
            self._inputs = [self._inputs, _labels_for(self.num_images, None, num_classes)]
            self._ncols = num_classes
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if self.tensorboard_dir is not None:
            import tensorflow as tf

            self._writer = tf.summary.create_file_writer(str(Path(self.tensorboard_dir) / "samples"))

    def on_epoch_end(self, epoch, logs=None):
        if non_finite_losses(logs):
            # A diverged epoch is rolled back: no frame may carry its number.
            return
        self._epochs_seen = epoch + 1
        if (epoch + 1) % self.every == 0:
            self.save_grid(epoch + 1)

    def resume(self, finished_epochs: int) -> None:
        """Continue an interrupted run that finished `finished_epochs` epochs:
        its grids become the GIF's first frames; a grid of a later, unfinished
        epoch is removed (that epoch is trained again)."""
        self._epochs_seen = check_positive_int("finished_epochs", finished_epochs, minimum=0)
        if not self.out_dir.is_dir():
            return
        for path in sorted(self.out_dir.glob("epoch_[0-9]*.png")):
            saved_epoch = int(path.stem.split("_")[1])
            if saved_epoch <= finished_epochs:
                self.frames.append(path)
                self._last_saved_epoch = saved_epoch
            else:
                path.unlink()

    def on_train_end(self, logs=None):
        if self._epochs_seen and self._last_saved_epoch != self._epochs_seen:
            self.save_grid(self._epochs_seen)
        if self.frames:
            self.write_gif()
        if self._writer is not None:
            self._writer.close()

    def save_grid(self, epoch: int) -> Path:
        """Render the fixed latent vectors with the current generator to a PNG."""
        generator = sampling_generator(self.model)
        images = keras.ops.convert_to_numpy(generator(self._inputs, training=False))
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


def annealing_factor(progress: float, fraction: float, final_factor: float = 0.0) -> float:
    """The learning-rate multiplier at `progress` (0 = start, 1 = end of the
    run): 1 until the last `fraction` of the run, then linear down to
    `final_factor`, which it keeps from the end of the run on."""
    if fraction <= 0:
        return 1.0
    start = 1.0 - fraction
    if progress <= start:
        return 1.0
    done = min((progress - start) / fraction, 1.0)
    return 1.0 + done * (final_factor - 1.0)


class LearningRateAnnealing(keras.callbacks.Callback):
    """Lower every optimizer's learning rate linearly over the end of the run.

    Taught in `notebooks/03_dcgan_mnist.ipynb`. A GAN trained at a constant
    learning rate keeps circling a solution; letting the steps shrink at the
    end settles it. Unlike a step-count schedule, this one knows a *time*
    budget: the run's progress is the larger of the elapsed share of
    `max_seconds` and the finished share of `fit`'s epochs.

    The rates are set before every batch on TensorFlow and PyTorch and
    before every epoch on JAX (whose trainer holds the optimizer's state
    outside its variables during an epoch).

    Args:
        fraction: the last share of the run over which the rates fall, in [0, 1].
        max_seconds: the run's time budget (as given to `TimeBudget`), if any.
        final_factor: the rates at the end, as a multiple of the starting ones.
        seconds_before: time already spent before this `fit` (a resumed run).
        clock: the time source (tests pass a fake one).
    """

    def __init__(self, fraction: float, max_seconds: float | None = None, final_factor: float = 0.0,
                 seconds_before: float = 0.0, clock=time.perf_counter):
        super().__init__()
        self.fraction = check_non_negative_float("fraction", fraction, maximum=1.0)
        self.max_seconds = None if max_seconds is None else check_non_negative_float("max_seconds", max_seconds)
        self.final_factor = check_non_negative_float("final_factor", final_factor, maximum=1.0)
        self.seconds_before = check_non_negative_float("seconds_before", seconds_before)
        self.clock = clock
        self.base_rates: list[float] | None = None
        self._start = None
        self._epoch = 0

    def _optimizers(self) -> list:
        pair = [getattr(self.model, name, None) for name in ("g_optimizer", "d_optimizer")]
        return [optimizer for optimizer in pair if optimizer is not None] or [self.model.optimizer]

    def on_train_begin(self, logs=None):
        self._start = self.clock()
        if self.base_rates is None:  # a second fit keeps the first one's starting rates
            self.base_rates = [float(keras.ops.convert_to_numpy(optimizer.learning_rate))
                               for optimizer in self._optimizers()]

    def progress(self, epoch: int, batch: int = 0) -> float:
        """How far the run is, from 0 to 1 (or beyond, once a budget is spent)."""
        shares = []
        epochs, steps = self.params.get("epochs"), self.params.get("steps")
        if epochs:
            shares.append((epoch + (batch / steps if steps else 0.0)) / epochs)
        if self.max_seconds is not None:
            elapsed = self.seconds_before + self.clock() - self._start
            shares.append(elapsed / self.max_seconds if self.max_seconds > 0 else 1.0)
        return max(shares) if shares else 0.0

    def set_rates(self, progress: float) -> float:
        """Set the rates for `progress`; returns the factor applied."""
        factor = annealing_factor(progress, self.fraction, self.final_factor)
        for optimizer, rate in zip(self._optimizers(), self.base_rates):
            optimizer.learning_rate = rate * factor
        return factor

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self.set_rates(self.progress(epoch))

    def on_train_batch_begin(self, batch, logs=None):
        if keras.backend.backend() != "jax":
            self.set_rates(self.progress(self._epoch, batch))

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate_factor"] = annealing_factor(self.progress(epoch + 1), self.fraction, self.final_factor)


class EpochTimer(keras.callbacks.Callback):
    """Add ``epoch_seconds`` (the wall time of the epoch's training steps) to
    each epoch's logs, so a run's speed is in its history.

    List it first among the callbacks: its clock then stops before other
    callbacks draw grids or evaluate. The first epoch includes tracing (and
    XLA compilation), so judge speed by the later ones.
    """

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["epoch_seconds"] = time.perf_counter() - self._start


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
        self._good_weights = None

    def on_epoch_begin(self, epoch, logs=None):
        # Taken here rather than in on_train_begin, so that weights restored
        # from a backup (by a callback listed later) are the ones kept.
        if self._good_weights is None:
            self._good_weights = self.model.get_weights()

    def on_epoch_end(self, epoch, logs=None):
        bad = non_finite_losses(logs)
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


class TrainingBackup(keras.callbacks.BackupAndRestore):
    """`keras.callbacks.BackupAndRestore` that also keeps the run's history.

    Keras' callback saves, at the end of every epoch, everything
    `model.save_weights` writes: both networks, both optimizers' slots and
    (through `gan_keras._saving.RandomStateMixin`) every seed generator; when
    `fit` starts again it restores them and continues after the last finished
    epoch. This subclass also writes ``progress.json`` in the same folder:
    the settings of the run, the per-epoch logs and the training seconds, so
    a resumed run's history covers every epoch. It must be the *last*
    callback, so that each epoch's sample grid and evaluation exist before
    the epoch counts as finished.

    Args:
        backup_dir: a folder used by this run only (deleted when `fit` ends normally).
        settings: the run's settings; a backup made with other settings is
            refused (except for ``ignored_settings``).
        ignored_settings: settings that may change between the interrupted
            run and the resumed one (e.g. the number of epochs).

    Attributes:
        start_epoch: epochs already finished by an interrupted run (0 for a new run).
        history: the logs of every finished epoch, earlier runs included, as
            Keras' `History` has them: one list per key (a key logged only on
            some epochs, like the evaluator's figures, has only those entries).
        seconds_before: training seconds spent by the interrupted run(s).
    """

    def __init__(self, backup_dir: str | os.PathLike, settings: dict | None = None,
                 ignored_settings: tuple[str, ...] = ()):
        # double_checkpoint: the previous epoch's files are kept as well, so a
        # kill while the weights file is being written falls back to them.
        super().__init__(str(backup_dir), save_freq="epoch", double_checkpoint=True, delete_checkpoint=True)
        self.progress_path = Path(backup_dir) / "progress.json"
        self.settings = dict(settings or {})
        progress = self._read_progress()
        _check_same_settings(progress.get("settings", self.settings), self.settings, ignored_settings)
        self.start_epoch = self._finished_epochs()
        # The progress file may be one epoch ahead of Keras' weights (written
        # just before them): keep only epochs whose weights were saved.
        self.epoch_logs: list[dict] = progress.get("epoch_logs", [])[: self.start_epoch]
        epoch_seconds = progress.get("epoch_seconds", [])[: self.start_epoch]
        self.seconds_before = epoch_seconds[-1] if epoch_seconds else 0.0
        self._epoch_seconds = epoch_seconds
        self.resumed_at = progress.get("resumed_at", []) + ([self.start_epoch] if self.start_epoch else [])
        self._start = None
        self._write_progress()

    @property
    def history(self) -> dict[str, list[float]]:
        history: dict[str, list[float]] = {}
        for logs in self.epoch_logs:
            for key, value in logs.items():
                history.setdefault(key, []).append(value)
        return history

    @property
    def seconds(self) -> float:
        """Training seconds so far, interrupted runs included."""
        return self.seconds_before + (time.perf_counter() - self._start if self._start else 0.0)

    def on_train_begin(self, logs=None):
        self._start = time.perf_counter()
        super().on_train_begin(logs)

    def on_epoch_end(self, epoch, logs=None):
        if non_finite_losses(logs):
            # A diverged epoch is rolled back (`DivergenceGuard`): it is
            # neither history nor a state to resume from.
            return
        self.epoch_logs.append({key: float(value) for key, value in (logs or {}).items()})
        self._epoch_seconds.append(round(self.seconds, 3))
        # History first, weights second: a kill in between leaves the history
        # one epoch ahead, which the next start trims.
        self._write_progress()
        super().on_epoch_end(epoch, logs)

    def _finished_epochs(self) -> int:
        metadata = Path(self._training_metadata_path)
        if not metadata.exists():
            return 0
        try:
            return int(json.loads(metadata.read_text())["epoch"])
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"the backup in {self.backup_dir} is damaged ({metadata.name}: {error})") from error

    def _read_progress(self) -> dict:
        if not self.progress_path.exists():
            return {}
        try:
            return json.loads(self.progress_path.read_text())
        except ValueError as error:
            raise ValueError(f"the backup in {self.backup_dir} is damaged ({self.progress_path.name}: {error})") from error

    def _write_progress(self) -> None:
        self.progress_path.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "settings": self.settings,
            "epoch_logs": self.epoch_logs,
            "epoch_seconds": self._epoch_seconds,
            "resumed_at": self.resumed_at,
        }
        # Write-then-rename, so a kill mid-write never leaves half a file.
        temporary = self.progress_path.with_suffix(".tmp")
        temporary.write_text(json.dumps(record))
        os.replace(temporary, self.progress_path)


def _check_same_settings(before: dict, now: dict, ignored: tuple[str, ...]) -> None:
    changed = sorted(key for key in set(before) | set(now) if key not in ignored and before.get(key) != now.get(key))
    if changed:
        details = ", ".join(f"{key}: {before.get(key)!r} -> {now.get(key)!r}" for key in changed)
        raise ValueError(
            f"the interrupted run in this folder used other settings ({details}); rerun it with the same "
            "settings to resume, or pass --overwrite to start again"
        )
