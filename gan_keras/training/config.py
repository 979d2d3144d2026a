"""`TrainConfig`: every setting of ``python -m gan_keras train``, in one place.

Each field carries its help text and its check (`Check`); `TrainConfig.validate`
runs the checks and `gan_keras.training.cli` builds the command line from the
same fields, so the two cannot disagree. A field left as ``None`` takes its value
from `RECIPES`, the table of measured recipes: first the model's row, then the
loss's (``wgan_gp``). Why each value is what it is, with the measurements, is in
docs/defaults.md.

This module imports no Keras, so that the command line checks its arguments
before TensorFlow loads (the choices below are the library's own lists,
tests/test_cli.py checks they match).
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
from typing import Any

from gan_keras._validation import check_choice, check_non_negative_float, check_positive_int
from gan_keras.data import DATASETS, SOURCES

MODELS = ("dcgan", "mlp", "cgan", "vae")
LOSSES = ("hinge", "lsgan", "minimax", "non_saturating", "wgan_gp")  # gan_keras.losses.LOSSES
AUGMENTATIONS = ("none", "translation", "cutout", "translation_cutout")  # gan_keras.augment.AUGMENTATIONS
DISTRIBUTIONS = ("none", "data_parallel")  # gan_keras.training.distribute.DISTRIBUTIONS

# The recipes. A setting left as None takes the value of its model's row, and
# a `wgan_gp` loss then overrides three of them. `classic_dcgan` is not applied by
# itself: it is a whole recipe to pass, ``TrainConfig(**CLASSIC_DCGAN)``.
# docs/defaults.md gives the measurements behind every number.
_GAN = dict(latent_dim=100, learning_rate=1e-3, beta_2=0.999, dropout=0.0, augment="none", r1_weight=0.0, d_steps=1)
RECIPES: dict[str, dict[str, Any]] = {
    # The default: a class-conditional DCGAN; dropout 0.3 in D stopped a collapse to one image per class.
    "cgan": {**_GAN, "dropout": 0.3},
    # The unconditional DCGAN, with an R1 penalty on D (gamma 1, lazily every 4th D step: `r1_every`).
    "dcgan": {**_GAN, "r1_weight": 1.0},
    "mlp": _GAN,
    # VAE.compile's default Adam; a 16-number code.
    "vae": {**_GAN, "latent_dim": 16},
    # Gulrajani et al. (2017): five critic updates per G update, Adam(1e-4, beta_2 = 0.9).
    "wgan_gp": dict(learning_rate=1e-4, beta_2=0.9, d_steps=5),
    # Radford et al.'s DCGAN recipe, `train`'s default before the measurements; notebooks 05-08 keep it.
    "classic_dcgan": dict(model="dcgan", learning_rate=2e-4, beta_1=0.5, dropout=0.3, spatial_dropout=False,
                          r1_weight=0.0),
}
CLASSIC_DCGAN = RECIPES["classic_dcgan"]


@dataclass(frozen=True)
class Check:
    """What a setting accepts: its type, bounds or choices.

    Calling it checks a value (a ValueError/TypeError naming the setting);
    `parse` turns a command-line word into a value, or an argparse error.
    """

    kind: type
    minimum: float = 0
    maximum: float | None = None  # inclusive
    below: float | None = None  # exclusive upper bound
    above_minimum: bool = False  # the value must be > minimum, not >=
    choices: tuple = ()
    note: str = ""  # what the bound means, e.g. " (0 turns the average off)"

    def __call__(self, name: str, value: Any) -> None:
        if self.choices:
            check_choice(name, value, self.choices)
        elif self.kind is bool:
            if not isinstance(value, bool):
                raise TypeError(f"`{name}` must be True or False, got {value!r}")
        elif self.kind is int:
            check_positive_int(name, value, minimum=int(self.minimum))
        elif self.kind is float:
            # Every float setting is >= 0 (`minimum` only says whether 0 itself is allowed).
            number = check_non_negative_float(name, value, maximum=self.maximum)
            if self.above_minimum and number <= self.minimum:
                raise ValueError(f"`{name}` must be > {self.minimum:g}, got {number:g}")
            if self.below is not None and number >= self.below:
                raise ValueError(f"`{name}` must be in [{self.minimum:g}, {self.below:g}){self.note}, got {value}")

    def parse(self, text: str) -> Any:
        """A command-line word as a value; the bounds beyond the lower one are `__call__`'s."""
        if self.kind is int:
            try:
                value = int(text)
            except ValueError:
                raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
            if value < self.minimum:
                raise argparse.ArgumentTypeError(f"expected a whole number >= {self.minimum:g}, got {value}")
            return value
        if self.kind is float:
            try:
                value = float(text)
            except ValueError:
                raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
            if value < self.minimum or (self.above_minimum and value == self.minimum):
                sign = ">" if self.above_minimum else ">="
                raise argparse.ArgumentTypeError(f"expected a number {sign} {self.minimum:g}, got {text}")
            return value
        raise TypeError(f"Check.parse reads int and float settings; argparse takes {self.kind.__name__} "
                        "ones as they are")


def setting(default: Any, help: str, check: Check | None = None) -> Any:
    """A `TrainConfig` field with its help text and check (kept in the field's metadata)."""
    return dataclasses.field(default=default, metadata={"help": help, "check": check})


WHOLE = Check(int, minimum=1)
COUNT = Check(int, minimum=0)
NON_NEGATIVE = Check(float)
RATE = Check(float, above_minimum=True)
SWITCH = Check(bool)


@dataclass
class TrainConfig:
    """Settings of one training run: each field's ``help`` says what it does
    (also ``python -m gan_keras train --help``), `RECIPES` gives the defaults
    that depend on the model, docs/defaults.md why.

    The defaults are `train`'s, measured best for a 5-minute CPU run on the
    bundled sample (Adam(1e-3, beta_1 = 0)); `GAN.compile` keeps the DCGAN
    paper's Adam(2e-4, beta_1 = 0.5) on purpose, since a notebook that builds
    its own GAN follows the paper (`CLASSIC_DCGAN` is that recipe here).
    """

    dataset: str = setting("mnist", "the images to learn", Check(str, choices=DATASETS))
    source: str = setting("auto", "auto: keras.datasets if cached or reachable, else the bundled sample",
                          Check(str, choices=SOURCES))
    model: str = setting("cgan", "cgan: a class-conditional DCGAN (the sample grid's columns are the digits 0-9); "
                                 "dcgan for the unconditional one; mlp; vae", Check(str, choices=MODELS))
    loss: str = setting("non_saturating", "the GAN's loss (gan_keras.losses); GANs only", Check(str, choices=LOSSES))
    epochs: int = setting(50, "maximum number of epochs", WHOLE)
    max_seconds: float | None = setting(
        None, "stop after the epoch in which this many seconds have passed (0: after one epoch)", NON_NEGATIVE)
    batch_size: int = setting(64, "images per step (the global batch under a distribution)", WHOLE)
    latent_dim: int | None = setting(None, "size of the noise vector (the model's code for the VAE)", WHOLE)
    base_filters: int = setting(32, "DCGAN width (build_generator); ignored by mlp", WHOLE)
    learning_rate: float | None = setting(None, "Adam's learning rate (both GAN networks, or the VAE)", RATE)
    d_learning_rate: float | None = setting(
        None, "the discriminator's learning rate, if not learning_rate (TTUR, Heusel et al., 2017); GANs only", RATE)
    beta_1: float = setting(0.0, "Adam's beta_1 for both GAN networks", Check(float, maximum=0.999))
    beta_2: float | None = setting(None, "Adam's beta_2 for both GAN networks", Check(float, maximum=0.9999))
    dropout: float | None = setting(None, "the discriminator's dropout rate", Check(float, maximum=0.9))
    spatial_dropout: bool = setting(
        False, "D's dropout drops whole feature maps instead of single units (faster on a CPU); ignored by mlp", SWITCH)
    minibatch_stddev: bool = setting(
        False, "D sees each batch's spread as one more feature map (against mode collapse); ignored by mlp", SWITCH)
    simultaneous: bool = setting(
        False, "update G and D from one forward pass (the TF tutorial's rule) instead of Algorithm 1", SWITCH)
    ema: float = setting(0.0, "sample a moving average of G's weights with this decay, e.g. 0.999 (0 = off); GANs only",
                         Check(float, below=1.0, note=" (0 turns the average off)"))
    anneal: float = setting(0.0, "lower the learning rates linearly to 0 over this last share of the run (0 = off)",
                            Check(float, maximum=1.0))
    augment: str | None = setting(
        None, "show D real and generated images through the same random shifts and/or blanked squares (DiffAugment)",
        Check(str, choices=AUGMENTATIONS))
    r1_weight: float | None = setting(None, "gamma of the R1 penalty on D's gradient at real images (0 = off)",
                                      NON_NEGATIVE)
    r1_every: int = setting(4, "compute the R1 penalty every N-th D step only, N times as heavily (lazy)", WHOLE)
    label_smoothing: float = setting(0.0, "one-sided label smoothing of D's real target, e.g. 0.1",
                                     Check(float, maximum=0.5))
    seed: int = setting(0, "one seed for weights, data order and noise", COUNT)
    max_images: int | None = setting(None, "train on the first N images only", WHOLE)
    data_dir: str | None = setting(None, "folder of IDX files, with source idx")
    sample_every: int = setting(1, "save a sample grid every N epochs", WHOLE)
    d_steps: int | None = setting(None, "D updates per G update", WHOLE)
    evaluate_every: int = setting(5, "record the evaluator's figures every N epochs (MNIST; 0 = off)", COUNT)
    tensorboard: bool = setting(False, "log losses and sample grids for TensorBoard in OUT/logs (TensorFlow)",
                                SWITCH)
    mixed_precision: bool = setting(False, "float16 maths with loss scaling on both optimizers (NVIDIA GPUs)",
                                    SWITCH)
    distribution: str = setting(
        "none", "data_parallel: split every batch across the local GPUs/TPU chips with Keras' engine "
                "(JAX: keras.distribution.DataParallel; TensorFlow: MirroredStrategy)",
        Check(str, choices=DISTRIBUTIONS))

    def validate(self) -> "TrainConfig":
        """Raise a ValueError/TypeError naming the first bad setting."""
        for field in dataclasses.fields(self):
            value, check = getattr(self, field.name), field.metadata["check"]
            # None means "the recipe's value" only where None is the default; elsewhere it is checked (an error).
            if check is not None and not (value is None and field.default is None):
                check(field.name, value)
        if self.tensorboard:
            import keras

            if keras.backend.backend() != "tensorflow":  # TensorBoard logs through tf.summary
                raise ValueError(f"`tensorboard`=True needs the TensorFlow backend; KERAS_BACKEND is "
                                 f"{keras.backend.backend()!r} (the JAX and PyTorch backends train with "
                                 "tensorboard=False)")
        if self.ema and self.model == "vae":
            raise ValueError("`ema` averages a GAN's generator; model='vae' takes ema=0")
        if self.model == "vae" and (self.augment not in (None, "none") or self.r1_weight):
            raise ValueError("`augment` and `r1_weight` regularise a GAN's discriminator; model='vae' has none "
                             f"(got augment={self.augment!r}, r1_weight={self.r1_weight!r})")
        return self

    def resolved(self) -> "TrainConfig":
        """A copy, validated, with every ``None`` replaced by its recipe's value (`RECIPES`)."""
        recipe = dict(RECIPES[self.validate().model])
        if self.loss == "wgan_gp" and self.model != "vae":
            recipe.update(RECIPES["wgan_gp"])
        values = {name: value for name, value in dataclasses.asdict(self).items() if value is not None}
        resolved = dataclasses.replace(self, **{**recipe, **values})
        if resolved.d_learning_rate is None:
            resolved.d_learning_rate = resolved.learning_rate
        return resolved

    @property
    def evaluated(self) -> bool:
        """The shipped evaluator knows MNIST digits only."""
        return self.dataset == "mnist" and self.evaluate_every > 0


def recipe_help(name: str) -> str:
    """How a setting left as None gets its value, from `RECIPES` (e.g. ``cgan 0.3, else 0``)."""
    by_model = {model: RECIPES[model][name] for model in MODELS if name in RECIPES[model]}
    if not by_model:
        return ""
    usual = max(set(by_model.values()), key=list(by_model.values()).count)
    parts = [f"{model} {value:g}" if isinstance(value, float) else f"{model} {value}"
             for model, value in by_model.items() if value != usual]
    if name in RECIPES["wgan_gp"]:
        parts.insert(0, f"loss wgan_gp {RECIPES['wgan_gp'][name]:g}")
    usual = f"{usual:g}" if isinstance(usual, float) else str(usual)
    parts.append(f"else {usual}" if parts else usual)  # "else" only after the exceptions
    return "default: " + ", ".join(parts)
