"""Keras callbacks for GAN training: sample grids + training GIF, time budget,
divergence guard, and the backup that lets an interrupted run resume.

Taught in `notebooks/03_dcgan_mnist.ipynb` (the GIF shown inline).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import imageio.v3 as iio
import keras
import numpy as np

from gan_keras._validation import check_non_negative_float, check_positive_int
from gan_keras.averaging import sampling_generator
from gan_keras.gan import is_conditional, labels_for, noise_size, num_classes_of
from gan_keras.plotting import save_image_grid


def non_finite_losses(logs: dict | None) -> dict:
    """The losses in an epoch's `logs` that are NaN or infinite (empty if none).

    An epoch with such a loss diverged: `DivergenceGuard` rolls its weights
    back, and the other callbacks do not record it as a finished epoch.
    """
    return {key: value for key, value in (logs or {}).items() if key.endswith("loss") and not np.isfinite(value)}


def fixed_inputs(generator: keras.Model, num_images: int, seed: int = 0, latent_dim: int | None = None) -> tuple:
    """The same generator inputs on every call: noise from a NumPy generator
    seeded with `seed` (and, for a conditional generator, the labels 0, 1, 2, ...
    cycling, one column per class).

    Args:
        generator: the generator (or a `GAN`, whose `latent_dim` is then used).
        num_images: how many inputs.
        seed: seed of the noise.
        latent_dim: the noise size, needed for a subclassed generator (one
            without declared inputs); else read from its input.

    Returns:
        ``(inputs, ncols)``: the generator's input (an array, or ``[noise, labels]``)
        and the grid's number of columns (``None`` for a near-square grid).
    """
    if latent_dim is None and isinstance(getattr(generator, "latent_dim", None), int):
        latent_dim = generator.latent_dim  # a GAN
    generator = getattr(generator, "generator", generator)
    latent_dim = noise_size(generator, latent_dim)
    noise = np.random.default_rng(seed).standard_normal((num_images, latent_dim)).astype(np.float32)
    if not is_conditional(generator):
        return noise, None
    num_classes = num_classes_of(generator)
    return [noise, labels_for(num_images, None, num_classes)], num_classes


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
        self._inputs, self._ncols = fixed_inputs(self.model.generator, self.num_images, self.seed,
                                                 latent_dim=getattr(self.model, "latent_dim", None))
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


class TrainingBackup(keras.callbacks.Callback):
    """Back up a run at the end of every epoch, so that a run killed at *any*
    moment resumes exactly where the last finished epoch left it.

    Each backup holds everything `model.save_weights` writes (both networks,
    both optimizers' slots and, through `gan_keras._saving.RandomStateMixin`,
    every seed generator) and ``progress.json``: the settings of the run, the
    per-epoch logs and the training seconds, so a resumed run's history
    covers every epoch. When `fit` starts again the weights are restored and
    training continues after the last finished epoch. It must be the *last*
    callback, so that each epoch's sample grid and evaluation exist before
    the epoch counts as finished.

    Why not `keras.callbacks.BackupAndRestore`: it writes its weights file
    and ``training_metadata.json`` in place, so a kill in the middle of
    either leaves a half-written file, or a metadata file that labels the new
    weights with the previous epoch (the resumed run then trains that epoch
    twice, silently). Its ``double_checkpoint`` fallback (only in recent
    Keras) covers an `OSError` on the weights only. Here no file is ever
    changed in place: each one is written under a temporary name and moved
    over the old one with `os.replace` (atomic), in an order where every
    moment of a kill leaves a complete backup:

    1. ``progress.json`` with the new epoch's logs (a resume ignores logs
       beyond the backed-up epoch);
    2. the weights, into a new file ``epoch_NNNNN.weights.h5``;
    3. ``training_metadata.json`` (``{"epoch": N, "weights": "epoch_NNNNN.weights.h5"}``):
       the commit point; until it is replaced, the previous epoch's weights
       and number are the backup;
    4. the previous weights file is deleted.

    Args:
        backup_dir: a folder used by this run only.
        settings: the run's settings; a backup made with other settings is
            refused (except for ``ignored_settings``).
        ignored_settings: settings that may change between the interrupted
            run and the resumed one (e.g. the number of epochs).
        delete_at_end: remove the backup when `fit` ends normally. `train`
            passes False and calls `remove` once every output is written.

    Attributes:
        start_epoch: epochs already finished by an interrupted run (0 for a new run).
        history: the logs of every finished epoch, earlier runs included, as
            Keras' `History` has them: one list per key (a key logged only on
            some epochs, like the evaluator's figures, has only those entries).
        seconds_before: training seconds spent by the interrupted run(s).
    """

    def __init__(self, backup_dir: str | os.PathLike, settings: dict | None = None,
                 ignored_settings: tuple[str, ...] = (), delete_at_end: bool = True):
        super().__init__()
        self.backup_dir = Path(backup_dir)
        self.progress_path = self.backup_dir / "progress.json"
        self.metadata_path = self.backup_dir / "training_metadata.json"
        self.delete_at_end = delete_at_end
        self.settings = dict(settings or {})
        progress = self._read_progress()
        _check_same_settings(progress.get("settings", self.settings), self.settings, ignored_settings)
        self.start_epoch, self._weights_name = self._read_metadata()
        # progress.json may be one epoch ahead of the backed-up weights
        # (written just before them): keep only epochs whose weights were saved.
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

    @property
    def weights_path(self) -> Path | None:
        """The weights file of the last backed-up epoch (None before the first)."""
        return self.backup_dir / self._weights_name if self._weights_name else None

    def on_train_begin(self, logs=None):
        self._start = time.perf_counter()
        self._remove_leftovers()
        if not self.start_epoch:
            return
        try:
            self.model.load_weights(self.weights_path)
        except Exception as error:  # h5py and Keras raise many types for a bad file
            raise ValueError(f"the backup in {self.backup_dir} is damaged ({self._weights_name}: {error})") from error
        # What `keras.callbacks.BackupAndRestore` does so that `fit` skips the
        # finished epochs; `train` also passes them to `fit` as initial_epoch.
        self.model._initial_epoch = self.start_epoch

    def on_epoch_end(self, epoch, logs=None):
        if non_finite_losses(logs):
            # A diverged epoch is rolled back (`DivergenceGuard`): it is
            # neither history nor a state to resume from.
            return
        self.epoch_logs.append({key: float(value) for key, value in (logs or {}).items()})
        self._epoch_seconds.append(round(self.seconds, 3))
        self.save(epoch + 1)

    def on_train_end(self, logs=None):
        if self.delete_at_end:
            self.remove()

    def save(self, finished_epochs: int) -> None:
        """Back up the model after `finished_epochs` epochs (see the class
        docstring for why the files are written in this order)."""
        previous = self.weights_path
        self._write_progress()
        weights_name = f"epoch_{finished_epochs:05d}.weights.h5"
        _replace_atomically(self.backup_dir / weights_name, self.model.save_weights)
        metadata = json.dumps({"epoch": finished_epochs, "weights": weights_name})
        _replace_atomically(self.metadata_path, lambda path: path.write_text(metadata))
        self.start_epoch, self._weights_name = finished_epochs, weights_name
        if previous is not None and previous.name != weights_name and previous.exists():
            previous.unlink()

    def remove(self) -> None:
        """Delete the backup folder. It is first renamed (atomic), so that a
        kill during the deletion never leaves a half-deleted backup behind to
        be resumed from."""
        if not self.backup_dir.exists():
            return
        doomed = self.backup_dir.with_name(self.backup_dir.name + REMOVED_SUFFIX)
        if doomed.exists():
            shutil.rmtree(doomed)
        os.replace(self.backup_dir, doomed)
        shutil.rmtree(doomed)

    def _remove_leftovers(self) -> None:
        # Temporary files and superseded weights of a run killed mid-backup.
        for path in self.backup_dir.glob("*"):
            stale_weights = path.name.endswith(".weights.h5") and path.name != self._weights_name
            if path.is_file() and (path.name.startswith(TEMPORARY_PREFIX) or stale_weights):
                path.unlink()

    def _read_metadata(self) -> tuple[int, str | None]:
        if not self.metadata_path.exists():
            return 0, None
        try:
            metadata = json.loads(self.metadata_path.read_text())
            epoch = int(metadata["epoch"])
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"the backup in {self.backup_dir} is damaged ({self.metadata_path.name}: {error})") from error
        # A backup written by `keras.callbacks.BackupAndRestore` names no file.
        weights_name = metadata.get("weights", "latest.weights.h5")
        if not (self.backup_dir / weights_name).is_file():
            raise ValueError(f"the backup in {self.backup_dir} is damaged ({self.metadata_path.name} names "
                             f"{weights_name}, which is missing)")
        return epoch, weights_name

    def _read_progress(self) -> dict:
        if not self.progress_path.exists():
            return {}
        try:
            return json.loads(self.progress_path.read_text())
        except ValueError as error:
            raise ValueError(f"the backup in {self.backup_dir} is damaged ({self.progress_path.name}: {error})") from error

    def _write_progress(self) -> None:
        self.backup_dir.mkdir(parents=True, exist_ok=True)
        record = json.dumps({
            "settings": self.settings,
            "epoch_logs": self.epoch_logs,
            "epoch_seconds": self._epoch_seconds,
            "resumed_at": self.resumed_at,
        })
        _replace_atomically(self.progress_path, lambda path: path.write_text(record))


TEMPORARY_PREFIX = ".tmp-"  # a backup file being written; never read
REMOVED_SUFFIX = ".removed"  # a finished run's backup folder while it is deleted


def _replace_atomically(path: Path, write) -> None:
    """Call ``write(temporary_path)``, flush the file to disk, then move it
    over `path` with `os.replace` (atomic): a kill at any moment leaves
    either the old file or the new one, never half of one. The temporary
    name keeps `path`'s ending (Keras wants ``.weights.h5``)."""
    temporary = path.with_name(TEMPORARY_PREFIX + path.name)
    write(temporary)
    # fsync: the new file's bytes reach the disk before the rename does (a
    # power cut, not only a killed process, then leaves a whole file).
    with open(temporary, "rb+") as file:
        os.fsync(file.fileno())
    os.replace(temporary, path)


def _check_same_settings(before: dict, now: dict, ignored: tuple[str, ...]) -> None:
    changed = sorted(key for key in set(before) | set(now) if key not in ignored and before.get(key) != now.get(key))
    if changed:
        details = ", ".join(f"{key}: {before.get(key)!r} -> {now.get(key)!r}" for key in changed)
        raise ValueError(
            f"the interrupted run in this folder used other settings ({details}); rerun it with the same "
            "settings to resume, or pass --overwrite to start again"
        )
