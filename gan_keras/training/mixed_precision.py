"""Mixed precision: float16 activations with float32 weights, logits and losses.

On a GPU with tensor cores, ``mixed_float16`` roughly doubles the speed of
convolutions. float16 gradients underflow to zero, so each loss is multiplied
by a large *loss scale* before differentiation and the gradients are divided
by it again before the update (`keras.optimizers.LossScaleOptimizer`, which
also lowers the scale when it sees an overflow). A GAN has two optimizers and
Keras' ``compile(auto_scale_loss=True)`` only wraps ``model.optimizer``, so
`GAN.compile` wraps both itself. Every update then differentiates
``optimizer.scale_loss(loss)`` and ``optimizer.apply`` divides the gradients
by the scale again (`gan_keras.gan.descend`), on every backend. Taught in
`notebooks/08_train_on_gpu.ipynb`.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import keras

from gan_keras._validation import check_choice

POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")


def uses_float16(*models: keras.Model) -> bool:
    """Whether any layer of `models` computes in float16 (and so needs loss scaling)."""
    return any(layer.compute_dtype == "float16" for model in models for layer in _all_layers(model))


def _all_layers(model: keras.Model):
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)


def with_loss_scaling(optimizer: keras.optimizers.Optimizer) -> keras.optimizers.Optimizer:
    """`optimizer` wrapped in a dynamic `LossScaleOptimizer` (unless it already is one)."""
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return optimizer
    return keras.optimizers.LossScaleOptimizer(optimizer)


@contextlib.contextmanager
def precision_policy(name: str) -> Iterator[None]:
    """Build models under the Keras dtype policy `name`, then restore the old one.

    Args:
        name: ``"float32"``, ``"mixed_float16"`` (NVIDIA GPUs) or
            ``"mixed_bfloat16"`` (TPUs, recent CPUs).
    """
    check_choice("precision", name, POLICIES)
    previous = keras.mixed_precision.dtype_policy()
    keras.mixed_precision.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_dtype_policy(previous)
