"""Training on more than one device with `tf.distribute.MirroredStrategy`.

Data parallelism splits every global batch across the replicas; each computes
gradients on its share and the optimizer sums them. Three things make a
replicated step equal the single-device step on the same batch:

- every hand-written loss is divided by the *global* batch size
  (`gan_keras.losses.global_batch_mean`), so the summed gradients are the
  gradient of the global mean;
- random draws (the generator's noise, WGAN-GP's alpha) are made for the
  whole global batch and each replica takes its own slice, rather than every
  replica drawing the same numbers for its smaller batch (`replica_random`);
- batch normalisation uses the global batch's statistics: the builders
  create synchronized `BatchNormalization` layers under a strategy.

Dropout masks are still drawn per replica. Taught in
`notebooks/08_train_on_gpu.ipynb`.
"""

from __future__ import annotations

import contextlib
from typing import Callable

import keras

from gan_keras._validation import check_choice

STRATEGIES = ("none", "mirrored")


def replica_position() -> tuple[int, int]:
    """``(number of replicas, index of this one)``; ``(1, 0)`` without a strategy."""
    if keras.backend.backend() != "tensorflow":
        return 1, 0
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None:  # cross-replica context: one logical caller
        return 1, 0
    return context.num_replicas_in_sync, context.replica_id_in_sync_group


def replica_random(draw: Callable, local_batch, rest_shape: tuple = (), seed=None):
    """This replica's slice of a draw made for the whole global batch.

    Args:
        draw: a `keras.random` function such as `keras.random.normal`.
        local_batch: this replica's batch size (may be a tensor).
        rest_shape: the shape of one example's draw.
        seed: an int or `keras.random.SeedGenerator`.

    Returns:
        A tensor ``[local_batch, *rest_shape]``; without a strategy simply
        ``draw((local_batch, *rest_shape), seed=seed)``.
    """
    replicas, index = replica_position()
    if replicas == 1:
        return draw((local_batch,) + tuple(rest_shape), seed=seed)
    values = draw((local_batch * replicas,) + tuple(rest_shape), seed=seed)
    start = index * local_batch
    return values[start:start + local_batch]


class SingleDevice:
    """No distribution: what `get_strategy("none")` returns on JAX and PyTorch."""

    num_replicas_in_sync = 1

    def scope(self):
        return contextlib.nullcontext()


def available_gpus() -> list[str]:
    """Names of the GPUs the Keras backend can use (empty on a CPU-only machine)."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return [device.name for device in tf.config.list_physical_devices("GPU")]
    if backend == "jax":
        import jax

        return [str(device) for device in jax.devices() if device.platform == "gpu"]
    if backend == "torch":
        import torch

        return [torch.cuda.get_device_name(index) for index in range(torch.cuda.device_count())]
    return []


def synchronized_batch_norm() -> bool:
    """Whether builders should synchronize batch statistics across replicas
    (only under a TensorFlow distribution strategy)."""
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return tf.distribute.has_strategy()


def get_strategy(name: str = "none"):
    """A `tf.distribute` strategy by name.

    Args:
        name: ``"none"`` (the default single-device strategy) or
            ``"mirrored"`` (one replica per visible GPU, or the CPU; TensorFlow
            backend only).

    Returns:
        A `tf.distribute.Strategy`; build and compile models inside its
        `scope()`. On JAX and PyTorch, ``"none"`` gives an object with the
        same `scope()` and ``num_replicas_in_sync`` that does nothing.

    Raises:
        ValueError: ``"mirrored"`` on a backend other than TensorFlow.
    """
    check_choice("strategy", name, STRATEGIES)
    if keras.backend.backend() != "tensorflow":
        if name != "none":
            raise ValueError(
                f"`strategy` {name!r} is tf.distribute, which needs the TensorFlow backend; "
                f"KERAS_BACKEND is {keras.backend.backend()!r} (use strategy 'none')"
            )
        return SingleDevice()
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()
