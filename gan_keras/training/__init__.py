"""The training run and its command line: what ``python -m gan_keras train`` does.

- `gan_keras.training.config`: `TrainConfig`, every setting with its help and check, and `RECIPES`
- `gan_keras.training.run`: `train` (data, models, fit, outputs), `build_gan`, `load_generator`
- `gan_keras.training.cli`: the command line, built from `TrainConfig`'s fields
- `gan_keras.training.distribute`: data-parallel training on several GPUs (notebook 08)
- `gan_keras.training.mixed_precision`: float16 maths with loss scaling (notebook 08)

The names below are imported on first use: the core modules import
`distribute`, and the command line checks its arguments before Keras loads.
"""

import importlib

_EXPORTS = {
    "TrainConfig": "gan_keras.training.config",
    "RECIPES": "gan_keras.training.config",
    "CLASSIC_DCGAN": "gan_keras.training.config",
    "MODELS": "gan_keras.training.config",
    "train": "gan_keras.training.run",
    "build_gan": "gan_keras.training.run",
    "load_generator": "gan_keras.training.run",
    "TrainResult": "gan_keras.training.run",
    "TrainingDiverged": "gan_keras.training.run",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'gan_keras.training' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
