"""gan_keras: generative models taught with Keras 3, one concept per module.

The core, what a student reads (top level):

- `gan_keras.data`: `load_images`, `make_dataset` (notebook 03)
- `gan_keras.builders`: `build_generator`, `build_discriminator` (notebooks 02, 03)
- `gan_keras.gan`: the `GAN` model and its `train_step`, Algorithm 1 (notebooks 02, 03)
- `gan_keras.losses`: minimax, non-saturating, LSGAN, hinge, WGAN-GP; the R1 penalty (notebooks 02, 03, 05)
- `gan_keras.autodiff`: one update's pure function for JAX; gradients on any backend (notebook 09)
- `gan_keras.augment`, `gan_keras.averaging`: DiffAugment; the generator's moving average (notebook 03)
- `gan_keras.callbacks`: `TrainingGIF`, `TimeBudget`, the training backup (notebook 03)
- `gan_keras.vae`: the `VAE` (notebook 06); `gan_keras.plotting`: image grids and curves

By audience, in subpackages:

- `gan_keras.training`: the training run and CLI (``python -m gan_keras train``): `TrainConfig`, `train`,
  data-parallel training and mixed precision (notebook 08)
- `gan_keras.evaluation`: the shipped evaluator and the metrics (notebook 07)
- `gan_keras.teaching`: helpers the notebooks teach with (toy data, latent walks, hand-written steps)
- `gan_keras.grading`: grading checks for course assignments (the kit in `assignments/`)

The names below are imported on first use, so that ``python -m gan_keras``
can check its arguments before TensorFlow is loaded.
"""

import importlib
import os

# TensorFlow is the default backend; JAX and PyTorch work too (set
# KERAS_BACKEND, or pass --backend to the CLI, before Keras is imported).
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

__version__ = "0.1.0"

_EXPORTS = {
    "GAN": "gan_keras.gan",
    "generate_images": "gan_keras.gan",
    "build_generator": "gan_keras.builders",
    "build_discriminator": "gan_keras.builders",
    "load_images": "gan_keras.data",
    "make_dataset": "gan_keras.data",
    "TrainingGIF": "gan_keras.callbacks",
    "TimeBudget": "gan_keras.callbacks",
    "LearningRateAnnealing": "gan_keras.callbacks",
    "WeightAverage": "gan_keras.averaging",
    "TrainConfig": "gan_keras.training.config",
    "train": "gan_keras.training.run",
    "load_generator": "gan_keras.training.run",
    "VAE": "gan_keras.vae",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value  # cache: later lookups skip __getattr__
        return value
    raise AttributeError(f"module 'gan_keras' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
