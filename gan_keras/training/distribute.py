"""Training on more than one device, through the engines Keras supports.

`get_distribution(name)` picks the engine for the Keras backend in use:

| ``distribution`` | TensorFlow | JAX | PyTorch |
| --- | --- | --- | --- |
| ``"none"`` | one device | one device | one device |
| ``"data_parallel"`` | `tf.distribute.MirroredStrategy` (every local GPU) | `keras.distribution.DataParallel` (every local GPU or TPU chip) | clear error |

Data parallelism splits every global batch across the devices; each computes
gradients on its share and the gradients are summed. On JAX, Keras lays each
batch out across a mesh of devices and XLA partitions the one global step
(GSPMD), so the step is the single-device step by construction. TensorFlow
runs one copy of the step per replica, and three things make it equal the
single-device step on the same batch:

- every hand-written loss is divided by the *global* batch size
  (`gan_keras.losses.global_batch_mean`), so the summed gradients are the
  gradient of the global mean;
- random draws (the generator's noise, WGAN-GP's alpha) are made for the
  whole global batch and each replica takes its own slice, rather than every
  replica drawing the same numbers for its smaller batch (`replica_random`);
- batch normalisation uses the global batch's statistics: the builders
  create synchronized `BatchNormalization` layers under a strategy.

Dropout masks are still drawn per replica on TensorFlow. Keras' PyTorch
trainer has no DistributedDataParallel for a custom `train_step`, so PyTorch
trains on one device. Several machines are not offered: see docs/gpu.md.
Taught in `notebooks/08_train_on_gpu.ipynb`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, ContextManager

import keras

from gan_keras._validation import check_choice

DISTRIBUTIONS = ("none", "data_parallel")


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


def count_accelerators() -> int:
    """GPUs (and, on JAX, TPU chips) the Keras backend can use; 0 on a CPU-only machine."""
    if keras.backend.backend() == "jax":
        import jax

        return sum(device.platform != "cpu" for device in jax.devices())
    return len(available_gpus())


def synchronized_batch_norm() -> bool:
    """Whether builders should synchronize batch statistics across replicas
    (only under a TensorFlow distribution strategy)."""
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return tf.distribute.has_strategy()


@dataclass(frozen=True)
class Distribution:
    """How a model is spread over devices: what `get_distribution` returns.

    Attributes:
        name: ``"none"`` or ``"data_parallel"``.
        engine: the Keras/TensorFlow class doing the work, for messages.
        replicas: devices a global batch is split across.
        scope: build the models (and their optimizers) *and* call `fit`
            inside ``with distribution.scope():``.
    """

    name: str
    engine: str
    replicas: int
    scope: Callable[[], ContextManager]

    def check_batch_size(self, batch_size: int) -> None:
        """Raise a ValueError unless `batch_size` splits evenly across the devices."""
        if batch_size % self.replicas:
            raise ValueError(
                f"`batch_size` {batch_size} does not split evenly across the {self.replicas} devices of "
                f"distribution={self.name!r}: use a multiple of {self.replicas}"
            )


def get_distribution(name: str = "none") -> Distribution:
    """The data-parallel engine that Keras supports on the backend in use.

    Args:
        name: ``"none"`` (one device) or ``"data_parallel"``: on TensorFlow
            `tf.distribute.MirroredStrategy` (one replica per visible GPU, or
            the CPU), on JAX `keras.distribution.DataParallel` over every
            device JAX sees (GPUs, TPU chips, or the CPU).

    Returns:
        A `Distribution`; build and compile the models, and call `fit`,
        inside its `scope()`.

    Raises:
        ValueError: an unknown name, or ``"data_parallel"`` on PyTorch.
    """
    check_choice("distribution", name, DISTRIBUTIONS)
    backend = keras.backend.backend()
    if name == "none" and backend != "tensorflow":
        return Distribution("none", "one device", 1, contextlib.nullcontext)
    if backend == "torch":
        raise ValueError(
            "`distribution` 'data_parallel' is not available on the PyTorch backend: Keras' torch trainer has "
            "no DistributedDataParallel for a custom train_step. Train on one GPU (distribution='none'), or "
            "use KERAS_BACKEND=jax (keras.distribution.DataParallel) or tensorflow (MirroredStrategy)"
        )
    if backend == "jax":
        devices = keras.distribution.list_devices()
        data_parallel = keras.distribution.DataParallel(devices=devices)
        return Distribution(name, "keras.distribution.DataParallel", len(devices), data_parallel.scope)
    import tensorflow as tf

    strategy = tf.distribute.MirroredStrategy() if name == "data_parallel" else tf.distribute.get_strategy()
    engine = "tf.distribute.MirroredStrategy" if name == "data_parallel" else "one device"
    return Distribution(name, engine, strategy.num_replicas_in_sync, strategy.scope)
