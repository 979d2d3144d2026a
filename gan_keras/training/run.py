"""The training run behind ``python -m gan_keras train``: data, models, fit, outputs.

Taught in `notebooks/03_dcgan_mnist.ipynb`, which runs the same five steps
one cell at a time.

Outputs written to ``out_dir``:

- ``samples/epoch_XXX.png``: a grid from fixed latent vectors, every epoch;
- ``training.gif``: those grids as an animation;
- ``generator.keras``: the trained generator (load it with `load_generator`);
- ``history.json``: per-epoch metrics, the configuration and timings;
- ``losses.png``: the training curves;
- ``logs/``: TensorBoard logs (losses and sample grids), with ``tensorboard=True``;
- ``backup/``: while training, the state of the last finished epoch. If the
  run is interrupted (a closed Colab tab, Ctrl-C, a crash), calling `train`
  again with the same settings and folder resumes from there; the folder is
  removed when training ends.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import keras

from gan_keras.averaging import sampling_generator
from gan_keras.builders import build_discriminator, build_generator
from gan_keras.callbacks import (
    REMOVED_SUFFIX,
    DivergenceGuard,
    EpochTimer,
    LearningRateAnnealing,
    TimeBudget,
    TrainingBackup,
    TrainingGIF,
)
from gan_keras.data import load_images, make_dataset
from gan_keras.gan import GAN
from gan_keras.plotting import plot_history
from gan_keras.training.config import TrainConfig
from gan_keras.training.distribute import available_gpus, get_distribution
from gan_keras.training.mixed_precision import precision_policy
from gan_keras.vae import VAE, build_decoder, build_encoder

NUM_CLASSES = 10  # both datasets have ten classes

BACKUP = "backup"  # the folder an interrupted run resumes from
# Everything `train` writes; only these are ever replaced by --overwrite.
# (``backup.removed`` is a finished run's backup caught by a kill while it was deleted.)
OUTPUT_NAMES = ("samples", "training.gif", "generator.keras", "history.json", "losses.png", "logs", BACKUP,
                BACKUP + REMOVED_SUFFIX)
# Settings that may differ when an interrupted run is resumed: a student may
# resume with a longer or shorter budget.
RESUMABLE_CHANGES = ("epochs", "max_seconds")


class TrainingDiverged(RuntimeError):
    """A loss became NaN/infinite; the outputs hold the last good generator.

    Its message names the epoch and the loss (from `DivergenceGuard`).
    """


@dataclass
class TrainResult:
    """What a run produced: the model, its history and where the files are.


    Attributes:
        seconds: wall time of the run, sample grids, evaluations and
            backups included (and the time before an interruption).
        training_seconds: the part of it spent in training steps.
        images_per_second: training images per *training* second.
    """

    model: GAN | VAE
    history: dict
    out_dir: Path
    epochs_run: int
    seconds: float
    images_per_second: float
    evaluation: dict | None = None
    images_per_epoch: int = 0
    training_seconds: float = 0.0

    @property
    def best_images_per_second(self) -> float:
        """Speed of the fastest epoch, leaving out the first (tracing) epoch
        when there are others: the steady rate a longer run would see."""
        seconds = self.history.get("epoch_seconds", [])
        steady = seconds[1:] or seconds
        return self.images_per_epoch / min(steady) if steady else float("nan")


def check_output_dir(out_dir: str | os.PathLike, overwrite: bool = False) -> Path:
    """Raise unless `train` may write to `out_dir`; changes nothing on disk.

    A folder holding an interrupted run (a ``backup/`` folder) is accepted:
    `train` resumes that run.

    Raises:
        FileExistsError: `out_dir` is a file, or holds a finished run's
            results and `overwrite` is False.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"`out` {out} exists and is not a folder")
    earlier = [name for name in OUTPUT_NAMES if (out / name).exists()]
    if earlier and not overwrite and not (out / BACKUP).is_dir():
        raise FileExistsError(
            f"`out` {out} already holds results of an earlier run ({', '.join(earlier)}); "
            "choose another folder or pass --overwrite to replace them"
        )
    return out


def prepare_output_dir(out_dir: str | os.PathLike, overwrite: bool = False) -> Path:
    """Create `out_dir` after `check_output_dir`; with `overwrite`, first
    remove an earlier run's results (only the files `train` writes: anything
    else in the folder is left alone).

    Returns:
        The folder as a `Path`.
    """
    out = check_output_dir(out_dir, overwrite)
    if overwrite:
        for name in OUTPUT_NAMES:
            path = out / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    out.mkdir(parents=True, exist_ok=True)
    return out


def build_gan(config: TrainConfig, image_shape=(28, 28, 1)) -> GAN | VAE:
    """Build and compile the model a `TrainConfig` describes (a `GAN`, or a `VAE`)."""
    config = config.resolved()
    if config.model == "vae":
        vae = VAE(
            build_encoder(config.latent_dim, image_shape, config.base_filters),
            build_decoder(config.latent_dim, image_shape, config.base_filters),
            seed=config.seed,
        )
        vae.compile(keras.optimizers.Adam(config.learning_rate))
        return vae
    kind = "mlp" if config.model == "mlp" else "dcgan"
    num_classes = NUM_CLASSES if config.model == "cgan" else None
    generator = build_generator(config.latent_dim, image_shape, kind=kind, num_classes=num_classes,
                                base_filters=config.base_filters)
    discriminator = build_discriminator(image_shape, kind=kind, num_classes=num_classes,
                                        base_filters=config.base_filters, dropout=config.dropout,
                                        spatial_dropout=config.spatial_dropout and kind == "dcgan",
                                        minibatch_stddev=config.minibatch_stddev and kind == "dcgan")
    gan = GAN(generator, discriminator, seed=config.seed)
    gan.compile(
        g_optimizer=keras.optimizers.Adam(config.learning_rate, beta_1=config.beta_1, beta_2=config.beta_2),
        d_optimizer=keras.optimizers.Adam(config.d_learning_rate, beta_1=config.beta_1, beta_2=config.beta_2),
        loss=config.loss,
        label_smoothing=config.label_smoothing,
        d_steps=config.d_steps,
        ema=config.ema,
        simultaneous=config.simultaneous,
        augment=config.augment,
        r1_weight=config.r1_weight,
        r1_every=config.r1_every,
    )
    return gan


def train(
    config: TrainConfig | None = None,
    out_dir: str | os.PathLike = "runs/latest",
    *,
    overwrite: bool = False,
    verbose: int | str = "auto",
    extra_callbacks: list[keras.callbacks.Callback] | None = None,
) -> TrainResult:
    """Train a GAN and write every output to `out_dir`.

    Its defaults (`TrainConfig`, `gan_keras.training.config.RECIPES`) are the
    recipes measured best for a 5-minute CPU run, Adam(1e-3, beta_1 = 0); they
    differ on purpose from `GAN.compile`'s, the DCGAN paper's Adam(2e-4,
    beta_1 = 0.5), which a notebook that writes its own GAN follows.

    Args:
        config: the settings (default `TrainConfig()`).
        out_dir: where the outputs go (see the module docstring).
        overwrite: replace an earlier run's outputs in `out_dir`.
        verbose: Keras `fit` verbosity; ``"auto"`` shows a progress bar on a
            terminal and one line per epoch otherwise (logs, CI).
        extra_callbacks: more Keras callbacks for `fit`.

    Returns:
        A `TrainResult`.
    """
    config = (config or TrainConfig()).validate()
    check_output_dir(out_dir, overwrite)
    keras.utils.set_random_seed(config.seed)
    if verbose == "auto":
        verbose = 1 if sys.stdout.isatty() else 2

    # Data and devices first: a missing dataset or a batch that does not split
    # across the devices must not leave an empty output folder behind.
    images, labels = load_images(
        config.dataset, config.source, max_images=config.max_images, data_dir=config.data_dir
    )
    distribution = get_distribution(config.distribution)
    distribution.check_batch_size(config.batch_size)
    out = prepare_output_dir(out_dir, overwrite=overwrite)
    # Removed by `train` itself, once every output is written (see below).
    backup = TrainingBackup(out / BACKUP, settings=dataclasses.asdict(config), ignored_settings=RESUMABLE_CHANGES,
                            delete_at_end=False)
    # A resumed run's first epoch sees the order that epoch has in an uninterrupted run.
    dataset = make_dataset(images, labels if config.model == "cgan" else None, batch_size=config.batch_size,
                           seed=config.seed, start_epoch=backup.start_epoch)
    if config.mixed_precision and verbose and not available_gpus():
        print("note: mixed precision without a GPU: float16 is emulated on a CPU and slower than float32")
    if distribution.replicas > 1 and verbose:
        print(f"data parallel: {distribution.engine} over {distribution.replicas} devices, "
              f"{config.batch_size // distribution.replicas} images each per step")
    if backup.start_epoch and verbose:
        print(f"resuming the interrupted run in {out} after epoch {backup.start_epoch}")
    # Under a distribution, the weights and both optimizers' slots are created
    # already laid out on the devices, and `fit` splits every batch across them.
    with distribution.scope():
        with precision_policy("mixed_float16" if config.mixed_precision else "float32"):
            model = build_gan(config, image_shape=images.shape[1:])
        callbacks = _callbacks(config, out, backup, extra_callbacks)
        # shuffle=False: the dataset reshuffles itself every epoch (make_dataset).
        # The backup restores the weights when fit starts; fit skips the finished epochs.
        model.fit(dataset, epochs=config.epochs, callbacks=callbacks, verbose=verbose, shuffle=False,
                  initial_epoch=min(backup.start_epoch, config.epochs))
    guard = callbacks[0]

    # Every finished epoch, including those before an interruption; a
    # diverged epoch was rolled back and is not among them.
    history = backup.history
    seconds = backup.seconds
    epochs_run = len(backup.epoch_logs)
    images_per_epoch = (len(images) // config.batch_size) * config.batch_size
    # Speed counts the training steps only (EpochTimer), not grids and evaluations.
    training_seconds = sum(history.get("epoch_seconds", []))
    images_per_second = epochs_run * images_per_epoch / max(training_seconds, 1e-9)

    # With `ema`, the averaged generator is the one saved, drawn and evaluated.
    generator = sampling_generator(model)
    generator.save(out / "generator.keras")
    plot_history(history, out / "losses.png")
    evaluation = final_evaluation(generator, config) if config.evaluated and not guard.message else None
    record = {
        "config": dataclasses.asdict(config),
        "history": history,
        "epochs_run": epochs_run,
        "resumed_after_epochs": backup.resumed_at,
        "seconds": round(seconds, 2),
        "training_seconds": round(training_seconds, 2),
        "images_per_second": round(images_per_second, 1),
        "training_images": len(images),
        "evaluation": evaluation,
        "diverged": guard.message,
        "versions": {"keras": keras.__version__, "backend": keras.backend.backend()},
    }
    (out / "history.json").write_text(json.dumps(record, indent=2))
    # Only now is the run finished: a kill before this line resumes from the
    # backup and writes the same outputs again.
    backup.remove()
    if guard.message:
        raise TrainingDiverged(f"{guard.message}; the outputs in {out} hold that generator")
    return TrainResult(model, history, out, epochs_run, seconds, images_per_second, evaluation,
                       images_per_epoch=images_per_epoch, training_seconds=training_seconds)


def _callbacks(
    config: TrainConfig, out: Path, backup: TrainingBackup, extra_callbacks: list | None
) -> list[keras.callbacks.Callback]:
    """The callbacks of `train`: the divergence guard and the epoch timer first,
    the backup last (an epoch counts as finished only once its grid and
    figures exist)."""
    logs = out / "logs" if config.tensorboard else None
    # A conditional grid has one column per class: 8 full rows of the 10 digits.
    num_images = 8 * NUM_CLASSES if config.model == "cgan" else 64
    gif = TrainingGIF(out / "samples", gif_path=out / "training.gif", every=config.sample_every,
                      num_images=num_images, seed=config.seed, tensorboard_dir=logs)
    gif.resume(backup.start_epoch)
    callbacks = [DivergenceGuard(), EpochTimer(), gif]
    if logs is not None:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(logs)))
    if config.evaluated:
        from gan_keras.evaluation import EvaluationCallback

        callbacks.append(EvaluationCallback(every=config.evaluate_every, seed=config.seed))
    if config.max_seconds is not None:
        # The budget covers the whole run, time spent before an interruption included.
        callbacks.append(TimeBudget(max(config.max_seconds - backup.seconds_before, 0.0)))
    if config.anneal:
        callbacks.append(LearningRateAnnealing(config.anneal, config.max_seconds, seconds_before=backup.seconds_before))
    return callbacks + list(extra_callbacks or []) + [backup]


def final_evaluation(generator: keras.Model, config: TrainConfig, n: int = 2000) -> dict:
    """Every figure of `gan_keras.evaluation` for the trained generator, with its
    real-data floor, plus the requested-class accuracy of a conditional one."""
    from gan_keras.evaluation import conditional_accuracy, evaluate_generator

    result = evaluate_generator(generator, n=n, seed=config.seed)
    if config.model == "cgan":
        result["conditional_accuracy"] = conditional_accuracy(generator, seed=config.seed)
    return result


def load_generator(path: str | os.PathLike) -> keras.Model:
    """Load a generator saved by `train` (Keras safe mode: no code from the file).

    Raises:
        FileNotFoundError: nothing at `path`.
        ValueError: the file is not a loadable Keras model.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"`generator`: no file {path}")
    if path.suffix != ".keras":
        raise ValueError(f"`generator` must be a .keras file written by `train`, got {path.name}")
    try:
        model = keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as error:  # Keras raises many types for a bad archive
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(f"`generator`: could not load {path} as a Keras model ({first_line})") from error
    if not isinstance(model, keras.Model) or not model.inputs:
        raise ValueError(f"`generator`: {path} does not hold a generator model")
    return model
