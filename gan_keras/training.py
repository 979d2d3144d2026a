"""The training run behind ``python -m gan_keras train``: data, models, fit, outputs.

Taught in `notebooks/03_dcgan_mnist.ipynb`, which runs the same five steps
one cell at a time.

Outputs written to ``out_dir``:

- ``samples/epoch_XXX.png``: a grid from fixed latent vectors, every epoch;
- ``training.gif``: those grids as an animation;
- ``generator.keras``: the trained generator (load it with `load_generator`);
- ``history.json``: per-epoch metrics, the configuration and timings;
- ``losses.png``: the training curves.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import keras

from gan_keras._validation import check_choice, check_non_negative_float, check_positive_int
from gan_keras.builders import build_discriminator, build_generator
from gan_keras.callbacks import TimeBudget, TrainingGIF
from gan_keras.data import DATASETS, SOURCES, load_images, make_dataset
from gan_keras.gan import GAN, default_optimizer
from gan_keras.losses import LOSSES
from gan_keras.plotting import plot_history

MODELS = ("dcgan", "mlp")
# Everything `train` writes; only these are ever replaced by --overwrite.
OUTPUT_NAMES = ("samples", "training.gif", "generator.keras", "history.json", "losses.png")


@dataclass
class TrainConfig:
    """Settings of one training run. The defaults are the measured ones that
    give recognisable digits of all ten classes from a 5-minute CPU run on the
    bundled sample (see the README's "Defaults" section).

    Attributes:
        dataset: ``"mnist"`` or ``"fashion_mnist"``.
        source: where the data comes from (`gan_keras.data.load_images`).
        model: ``"dcgan"`` or ``"mlp"``.
        loss: a name from `gan_keras.losses.LOSSES`.
        epochs: maximum number of epochs.
        max_seconds: stop after the epoch in which this wall-time budget runs out.
        batch_size: images per step.
        latent_dim: size of the noise vector.
        learning_rate: Adam learning rate of both networks (beta_1 = 0.5).
        label_smoothing: one-sided label smoothing of D's real target.
        seed: one seed for weights, data order and noise.
        max_images: use only the first this many training images.
        data_dir: folder of IDX files, for ``source="idx"``.
        sample_every: save a sample grid every this many epochs.
    """

    dataset: str = "mnist"
    source: str = "auto"
    model: str = "dcgan"
    loss: str = "non_saturating"
    epochs: int = 50
    max_seconds: float | None = None
    batch_size: int = 64
    latent_dim: int = 100
    learning_rate: float = 2e-4
    label_smoothing: float = 0.0
    seed: int = 0
    max_images: int | None = None
    data_dir: str | None = None
    sample_every: int = 1

    def validate(self) -> "TrainConfig":
        """Raise a ValueError/TypeError naming the first bad setting."""
        check_choice("dataset", self.dataset, DATASETS)
        check_choice("source", self.source, SOURCES)
        check_choice("model", self.model, MODELS)
        check_choice("loss", self.loss, LOSSES)
        check_positive_int("epochs", self.epochs)
        if self.max_seconds is not None:
            check_non_negative_float("max_seconds", self.max_seconds)
        check_positive_int("batch_size", self.batch_size)
        check_positive_int("latent_dim", self.latent_dim)
        if check_non_negative_float("learning_rate", self.learning_rate) == 0:
            raise ValueError("`learning_rate` must be > 0, got 0")
        check_non_negative_float("label_smoothing", self.label_smoothing, maximum=0.5)
        check_positive_int("seed", self.seed, minimum=0)
        if self.max_images is not None:
            check_positive_int("max_images", self.max_images)
        check_positive_int("sample_every", self.sample_every)
        return self


@dataclass
class TrainResult:
    """What a run produced: the model, its history and where the files are."""

    gan: GAN
    history: dict
    out_dir: Path
    epochs_run: int
    seconds: float
    images_per_second: float


def prepare_output_dir(out_dir: str | os.PathLike, overwrite: bool = False) -> Path:
    """Create `out_dir`, refusing to clobber an earlier run's results.

    Args:
        out_dir: the run's folder.
        overwrite: replace earlier results (only the files `train` writes;
            anything else in the folder is left alone).

    Returns:
        The folder as a `Path`.

    Raises:
        FileExistsError: `out_dir` holds earlier results and `overwrite` is False.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"`out` {out} exists and is not a folder")
    earlier = [name for name in OUTPUT_NAMES if (out / name).exists()]
    if earlier and not overwrite:
        raise FileExistsError(
            f"`out` {out} already holds results of an earlier run ({', '.join(earlier)}); "
            "choose another folder or pass --overwrite to replace them"
        )
    for name in earlier:
        path = out / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    out.mkdir(parents=True, exist_ok=True)
    return out


def build_gan(config: TrainConfig, image_shape=(28, 28, 1)) -> GAN:
    """Build and compile the GAN a `TrainConfig` describes."""
    generator = build_generator(config.latent_dim, image_shape, kind=config.model)
    discriminator = build_discriminator(image_shape, kind=config.model)
    gan = GAN(generator, discriminator, latent_dim=config.latent_dim, seed=config.seed)
    gan.compile(
        g_optimizer=default_optimizer(config.learning_rate),
        d_optimizer=default_optimizer(config.learning_rate),
        loss=config.loss,
        label_smoothing=config.label_smoothing,
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
    out = prepare_output_dir(out_dir, overwrite=overwrite)
    keras.utils.set_random_seed(config.seed)

    images, labels = load_images(
        config.dataset, config.source, max_images=config.max_images, data_dir=config.data_dir
    )
    dataset = make_dataset(images, batch_size=config.batch_size, seed=config.seed)
    gan = build_gan(config, image_shape=images.shape[1:])

    callbacks = [TrainingGIF(out / "samples", gif_path=out / "training.gif", every=config.sample_every, seed=config.seed)]
    if config.max_seconds is not None:
        callbacks.append(TimeBudget(config.max_seconds))
    callbacks += extra_callbacks or []
    if verbose == "auto":
        verbose = 1 if sys.stdout.isatty() else 2

    start = time.perf_counter()
    # shuffle=False: the dataset reshuffles itself every epoch (make_dataset).
    history = gan.fit(dataset, epochs=config.epochs, callbacks=callbacks, verbose=verbose, shuffle=False).history
    seconds = time.perf_counter() - start
    epochs_run = len(history.get("d_loss", []))
    steps_per_epoch = len(images) // config.batch_size
    images_per_second = epochs_run * steps_per_epoch * config.batch_size / max(seconds, 1e-9)

    gan.generator.save(out / "generator.keras")
    plot_history(history, out / "losses.png")
    record = {
        "config": dataclasses.asdict(config),
        "history": {key: [float(value) for value in values] for key, values in history.items()},
        "epochs_run": epochs_run,
        "seconds": round(seconds, 2),
        "images_per_second": round(images_per_second, 1),
        "training_images": len(images),
        "versions": {"keras": keras.__version__, "backend": keras.backend.backend()},
    }
    (out / "history.json").write_text(json.dumps(record, indent=2))
    return TrainResult(gan, record["history"], out, epochs_run, seconds, images_per_second)


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
