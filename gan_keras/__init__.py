"""gan_keras: generative models taught with Keras 3, one concept per module.

- `gan_keras.data`: `load_images`, `make_dataset` (notebook 03)
- `gan_keras.builders`: `build_generator`, `build_discriminator` (notebooks 02, 03)
- `gan_keras.gan`: the `GAN` model with its custom `train_step` (notebooks 02, 03)
- `gan_keras.losses`: minimax, non-saturating, LSGAN and hinge losses, the R1 penalty (notebooks 02, 03, 05)
- `gan_keras.augment`: `diff_augment`, translation and cutout for D's real and fake images alike (notebook 03)
- `gan_keras.callbacks`: `TrainingGIF`, `TimeBudget`, `LearningRateAnnealing` (notebook 03)
- `gan_keras.averaging`: `WeightAverage`, the generator's moving average (notebook 03)
- `gan_keras.plotting`: image grids and training curves
- `gan_keras.training`: `TrainConfig` and `train`, the engine of ``python -m gan_keras train``
- `gan_keras.vae`: the `VAE` (notebook 06); `gan_keras.latent`: interpolation (notebooks 04, 06)
- `gan_keras.evaluation`: the shipped evaluator and the metrics (notebook 07)
- `gan_keras.toy`, `gan_keras.classic`: 2-D toy data and `train_ring_gan` (notebooks 02, 05); a PCA-Gaussian model (notebook 01)
- `gan_keras.recipes`: `train_dcgan_and_vae`, the DCGAN + VAE pair of notebooks 06 and 07
- `gan_keras.autodiff`: the JAX adapter of the step (`stateless_loss`) and the simultaneous rule's two gradients (notebook 09)
- `gan_keras.handwritten`: the same GAN step written by hand on each backend, the reference (notebook 09)
- `gan_keras.checks`: grading checks for course assignments (the kit in `assignments/`)

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
    "TrainConfig": "gan_keras.training",
    "train": "gan_keras.training",
    "load_generator": "gan_keras.training",
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
