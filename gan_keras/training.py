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

from gan_keras._validation import check_choice, check_non_negative_float, check_positive_int
from gan_keras.averaging import sampling_generator
from gan_keras.augment import AUGMENTATIONS
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
from gan_keras.data import DATASETS, SOURCES, load_images, make_dataset
from gan_keras.distribute import DISTRIBUTIONS, available_gpus, get_distribution
from gan_keras.gan import GAN
from gan_keras.losses import LOSSES
from gan_keras.mixed_precision import precision_policy
from gan_keras.plotting import plot_history
from gan_keras.vae import VAE, build_decoder, build_encoder

MODELS = ("dcgan", "mlp", "cgan", "vae")
NUM_CLASSES = 10  # both datasets have ten classes
# WGAN-GP's recipe (Gulrajani et al., 2017): five critic updates per
# generator update and Adam with beta_2 = 0.9.
WGAN_GP_D_STEPS = 5
# The recipe measured best for a 5-minute CPU run by benchmarks/recipe_search.py
# (docs/defaults.md): Adam(1e-3, beta_1 = 0) for both networks and no dropout in D.
GAN_LEARNING_RATE = 1e-3
# With that recipe the conditional DCGAN collapsed (one image per class) on one
# seed in three; dropout 0.3 in D prevented it there.
CGAN_DROPOUT = 0.3
# The unconditional DCGAN's regularisers, measured by benchmarks/recipe_search.py (docs/defaults.md):
# an R1 penalty with gamma = 1, lazily every 4th D step, lowered the 5-minute FID on every seed;
# DiffAugment (translation, cutout) made it worse at that budget.
DCGAN_AUGMENT = "none"
DCGAN_R1_WEIGHT = 1.0
R1_EVERY = 4
WGAN_GP_LEARNING_RATE = 1e-4  # Gulrajani et al. (2017), with beta_1 = 0 and beta_2 = 0.9
VAE_LEARNING_RATE = 1e-3  # VAE.compile's default Adam
# The default before that measurement: Radford et al.'s DCGAN recipe
# (Adam(2e-4, beta_1 = 0.5), dropout 0.3 in D). Notebooks 05-08 were measured
# with it and keep it: ``TrainConfig(**CLASSIC_DCGAN)``, or on the command line
# ``--model dcgan --learning-rate 2e-4 --beta-1 0.5 --dropout 0.3 --r1-weight 0``.
CLASSIC_DCGAN = {"model": "dcgan", "learning_rate": 2e-4, "beta_1": 0.5, "dropout": 0.3, "spatial_dropout": False,
                 "r1_weight": 0.0}
BACKUP = "backup"  # the folder an interrupted run resumes from
# Everything `train` writes; only these are ever replaced by --overwrite.
# (``backup.removed`` is a finished run's backup caught by a kill while it was deleted.)
OUTPUT_NAMES = ("samples", "training.gif", "generator.keras", "history.json", "losses.png", "logs", BACKUP,
                BACKUP + REMOVED_SUFFIX)
# Settings that may differ when an interrupted run is resumed: a student may
# resume with a longer or shorter budget.
RESUMABLE_CHANGES = ("epochs", "max_seconds")


@dataclass
class TrainConfig:
    """Settings of one training run. The defaults are the recipe measured best
    for a 5-minute CPU run on the bundled sample (`benchmarks/recipe_search.py`,
    docs/defaults.md): the class-conditional DCGAN (``model="cgan"``, which
    uses the labels) with Adam(1e-3, beta_1 = 0) and dropout 0.3 in D. With
    ``model="dcgan"`` the same optimizer, no dropout and an R1 penalty on
    D (gamma 1, every 4th D step) is the best unconditional recipe
    measured; `CLASSIC_DCGAN` holds the default before those measurements.

    Attributes:
        dataset: ``"mnist"`` or ``"fashion_mnist"``.
        source: where the data comes from (`gan_keras.data.load_images`).
        model: ``"cgan"`` (class-conditional DCGAN, the default: measured FID
            11-12 after 5 minutes against 38-45 for ``"dcgan"`` then, 32-44
            with its R1 penalty on a CPU half as fast), ``"dcgan"``,
            ``"mlp"`` or ``"vae"``.
        loss: a name from `gan_keras.losses.LOSSES` (GANs only).
        epochs: maximum number of epochs.
        max_seconds: stop after the epoch in which this wall-time budget runs out.
        batch_size: images per step.
        latent_dim: size of the noise vector (default 100 for GANs, 16 for the VAE).
        base_filters: ``dcgan`` width (see `build_generator`); ignored by ``mlp``.
        learning_rate: Adam learning rate; default 1e-3 for both networks of a
            GAN (1e-4 for ``wgan_gp``) and 1e-3 for the VAE (Keras' default
            betas, the `VAE.compile` default).
        d_learning_rate: the discriminator's learning rate, if it differs
            from the generator's (TTUR, Heusel et al., 2017); GANs only.
        beta_1: Adam's beta_1 for both GAN networks: 0 (no momentum) learned
            faster than the DCGAN paper's 0.5 in the measured 5-minute runs.
        beta_2: Adam's beta_2 for both GAN networks (default 0.9 for
            ``wgan_gp``, as Gulrajani et al., else 0.999).
        dropout: the discriminator's dropout rate; default 0 (measured faster
            per image and better at a 5-minute budget than 0.3), but 0.3 for
            ``cgan``, whose generator collapsed to one image per class without it.
        spatial_dropout: D's dropout drops whole feature maps
            (`keras.layers.SpatialDropout2D`: one random draw per channel)
            instead of single units. Measured with ``cgan`` at 300 s: 22%
            more images/s, FID 12.4 against 11.4 (docs/speed.md). Ignored
            by ``mlp``.
        minibatch_stddev: D sees how much each batch varies
            (`gan_keras.builders.MinibatchStddev`), against mode collapse.
            Ignored by ``mlp``.
        simultaneous: update G and D from one forward pass (the TensorFlow
            tutorial's rule, `GAN.compile(simultaneous=True)`) instead of
            Algorithm 1; faster per image (docs/speed.md).
        ema: if > 0, sample, save and evaluate a moving average of G's
            weights with this decay (`gan_keras.averaging`); GANs only.
        anneal: lower the learning rates linearly to 0 over this last share
            of the run (of `max_seconds`, or of `epochs`, whichever runs out
            first; `LearningRateAnnealing`); 0 keeps them constant.
        augment: what D sees real and generated images through
            (`gan_keras.augment`): ``"none"`` (the default: measured worse
            at a 5-minute budget), ``"translation"``, ``"cutout"`` or
            ``"translation_cutout"`` (DiffAugment).
        r1_weight: gamma of the R1 penalty on D's gradient at the real
            images (`gan_keras.losses.r1_penalty`); default 1 for
            ``dcgan`` (measured FID 37.2 against 49.5 without it after 5
            minutes, mean of seeds 0-2; docs/defaults.md), 0 (off) for
            the other models.
        r1_every: compute the R1 penalty on every this-many-th D step only
            (lazy regularisation), that many times as heavily; default 4.
        label_smoothing: one-sided label smoothing of D's real target.
        seed: one seed for weights, data order and noise.
        max_images: use only the first this many training images.
        data_dir: folder of IDX files, for ``source="idx"``.
        sample_every: save a sample grid every this many epochs.
        d_steps: discriminator updates per generator update (default 5 for
            ``wgan_gp``, else 1).
        evaluate_every: record the evaluator's cheap figures every this many
            epochs (MNIST only; 0 turns it off).
        tensorboard: also log losses and sample grids for TensorBoard in ``out_dir/logs``.
        mixed_precision: build the networks under the ``mixed_float16``
            policy (float16 maths, float32 weights, logits and losses; both
            optimizers loss-scaled). For NVIDIA GPUs; slower on a CPU.
        distribution: ``"none"`` or ``"data_parallel"``: split every batch
            across the local devices with the engine Keras supports on the
            backend (`keras.distribution.DataParallel` on JAX,
            `tf.distribute.MirroredStrategy` on TensorFlow; not on PyTorch).
            `batch_size` is the global batch (`gan_keras.distribute`).
    """

    dataset: str = "mnist"
    source: str = "auto"
    model: str = "cgan"
    loss: str = "non_saturating"
    epochs: int = 50
    max_seconds: float | None = None
    batch_size: int = 64
    latent_dim: int | None = None
    base_filters: int = 32
    learning_rate: float | None = None
    d_learning_rate: float | None = None
    beta_1: float = 0.0
    beta_2: float | None = None
    dropout: float | None = None
    spatial_dropout: bool = False
    minibatch_stddev: bool = False
    simultaneous: bool = False
    ema: float = 0.0
    anneal: float = 0.0
    augment: str | None = None
    r1_weight: float | None = None
    r1_every: int = R1_EVERY
    label_smoothing: float = 0.0
    seed: int = 0
    max_images: int | None = None
    data_dir: str | None = None
    sample_every: int = 1
    d_steps: int | None = None
    evaluate_every: int = 5
    tensorboard: bool = False
    mixed_precision: bool = False
    distribution: str = "none"

    def validate(self) -> "TrainConfig":
        """Raise a ValueError/TypeError naming the first bad setting."""
        check_choice("dataset", self.dataset, DATASETS)
        check_choice("source", self.source, SOURCES)
        check_choice("model", self.model, MODELS)
        check_choice("loss", self.loss, LOSSES)
        check_choice("distribution", self.distribution, DISTRIBUTIONS)
        if self.augment is not None:
            check_choice("augment", self.augment, AUGMENTATIONS)
        if self.r1_weight is not None:
            check_non_negative_float("r1_weight", self.r1_weight)
        check_positive_int("r1_every", self.r1_every)
        for name in ("tensorboard", "mixed_precision", "spatial_dropout", "minibatch_stddev", "simultaneous"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"`{name}` must be True or False, got {getattr(self, name)!r}")
        backend = keras.backend.backend()
        if backend != "tensorflow":
            # TensorBoard logs through tf.summary.
            if self.tensorboard:
                raise ValueError(
                    f"`tensorboard`=True needs the TensorFlow backend; KERAS_BACKEND is {backend!r} "
                    "(the JAX and PyTorch backends train with tensorboard=False)"
                )
        check_positive_int("epochs", self.epochs)
        if self.max_seconds is not None:
            check_non_negative_float("max_seconds", self.max_seconds)
        check_positive_int("batch_size", self.batch_size)
        if self.latent_dim is not None:
            check_positive_int("latent_dim", self.latent_dim)
        if self.d_steps is not None:
            check_positive_int("d_steps", self.d_steps)
        check_positive_int("evaluate_every", self.evaluate_every, minimum=0)
        check_positive_int("base_filters", self.base_filters)
        if self.learning_rate is not None and check_non_negative_float("learning_rate", self.learning_rate) == 0:
            raise ValueError("`learning_rate` must be > 0, got 0")
        if self.d_learning_rate is not None and check_non_negative_float("d_learning_rate", self.d_learning_rate) == 0:
            raise ValueError("`d_learning_rate` must be > 0, got 0")
        check_non_negative_float("beta_1", self.beta_1, maximum=0.999)
        if self.beta_2 is not None:
            check_non_negative_float("beta_2", self.beta_2, maximum=0.9999)
        if self.dropout is not None:
            check_non_negative_float("dropout", self.dropout, maximum=0.9)
        if check_non_negative_float("ema", self.ema) >= 1:
            raise ValueError(f"`ema` must be in [0, 1) (0 turns the average off), got {self.ema}")
        if self.ema and self.model == "vae":
            raise ValueError("`ema` averages a GAN's generator; model='vae' takes ema=0")
        if self.model == "vae" and (self.augment not in (None, "none") or self.r1_weight):
            raise ValueError("`augment` and `r1_weight` regularise a GAN's discriminator; model='vae' has none "
                             f"(got augment={self.augment!r}, r1_weight={self.r1_weight!r})")
        check_non_negative_float("anneal", self.anneal, maximum=1.0)
        check_non_negative_float("label_smoothing", self.label_smoothing, maximum=0.5)
        check_positive_int("seed", self.seed, minimum=0)
        if self.max_images is not None:
            check_positive_int("max_images", self.max_images)
        check_positive_int("sample_every", self.sample_every)
        return self

    @property
    def resolved_latent_dim(self) -> int:
        return self.latent_dim if self.latent_dim is not None else (16 if self.model == "vae" else 100)

    @property
    def resolved_learning_rate(self) -> float:
        if self.learning_rate is not None:
            return self.learning_rate
        if self.model == "vae":
            return VAE_LEARNING_RATE
        return WGAN_GP_LEARNING_RATE if self.loss == "wgan_gp" else GAN_LEARNING_RATE

    @property
    def resolved_dropout(self) -> float:
        if self.dropout is not None:
            return self.dropout
        return CGAN_DROPOUT if self.model == "cgan" else 0.0

    @property
    def resolved_augment(self) -> str:
        if self.augment is not None:
            return self.augment
        return DCGAN_AUGMENT if self.model == "dcgan" else "none"

    @property
    def resolved_r1_weight(self) -> float:
        if self.r1_weight is not None:
            return self.r1_weight
        return DCGAN_R1_WEIGHT if self.model == "dcgan" else 0.0

    @property
    def resolved_d_learning_rate(self) -> float:
        return self.d_learning_rate if self.d_learning_rate is not None else self.resolved_learning_rate

    @property
    def resolved_d_steps(self) -> int:
        return self.d_steps if self.d_steps is not None else (WGAN_GP_D_STEPS if self.loss == "wgan_gp" else 1)

    @property
    def evaluated(self) -> bool:
        """The shipped evaluator knows MNIST digits only."""
        return self.dataset == "mnist" and self.evaluate_every > 0


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
    latent_dim = config.resolved_latent_dim
    if config.model == "vae":
        vae = VAE(
            build_encoder(latent_dim, image_shape, config.base_filters),
            build_decoder(latent_dim, image_shape, config.base_filters),
            seed=config.seed,
        )
        vae.compile(keras.optimizers.Adam(config.resolved_learning_rate))
        return vae
    kind = "mlp" if config.model == "mlp" else "dcgan"
    num_classes = NUM_CLASSES if config.model == "cgan" else None
    generator = build_generator(latent_dim, image_shape, kind=kind, num_classes=num_classes, base_filters=config.base_filters)
    discriminator = build_discriminator(image_shape, kind=kind, num_classes=num_classes,
                                        base_filters=config.base_filters, dropout=config.resolved_dropout,
                                        spatial_dropout=config.spatial_dropout and kind == "dcgan",
                                        minibatch_stddev=config.minibatch_stddev and kind == "dcgan")
    gan = GAN(generator, discriminator, seed=config.seed)
    beta_2 = config.beta_2 if config.beta_2 is not None else (0.9 if config.loss == "wgan_gp" else 0.999)
    gan.compile(
        g_optimizer=keras.optimizers.Adam(config.resolved_learning_rate, beta_1=config.beta_1, beta_2=beta_2),
        d_optimizer=keras.optimizers.Adam(config.resolved_d_learning_rate, beta_1=config.beta_1, beta_2=beta_2),
        loss=config.loss,
        label_smoothing=config.label_smoothing,
        d_steps=config.resolved_d_steps,
        ema=config.ema,
        simultaneous=config.simultaneous,
        augment=config.resolved_augment,
        r1_weight=config.resolved_r1_weight,
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
