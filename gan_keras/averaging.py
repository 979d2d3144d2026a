"""An exponential moving average of a generator's weights.

Taught in `notebooks/03_dcgan_mnist.ipynb`. A GAN's generator never settles:
each update chases the discriminator's latest opinion, so consecutive
weights wander around a good solution. Averaging them (Polyak averaging, as
in Yazıcı et al., 2019, and StyleGAN's "G_ema") gives a generator that sits
nearer the middle of that wandering, at the cost of one extra copy of G's
weights. The average is only *sampled*, never trained.

``GAN.compile(ema=0.999)`` keeps one and updates it after every
generator step, inside the train step (so it works the same, compiled, on
TensorFlow, JAX and PyTorch, and is saved with the model and its backups).
"""

from __future__ import annotations

import keras
from keras import layers, ops

from gan_keras._validation import check_non_negative_float

# The warm-up of tf.train.ExponentialMovingAverage: at update t the decay is
# min(decay, (1 + t) / (10 + t)), so the first updates follow the weights
# closely and the random initial weights are forgotten within a few steps.
WARMUP_OFFSET = 10.0


def average_decay(decay: float, updates, warmup: bool = True):
    """The decay used at the `updates`-th update (counting from 1)."""
    if not warmup:
        return ops.convert_to_tensor(decay, "float32")
    updates = ops.cast(updates, "float32")
    return ops.minimum(decay, (1.0 + updates) / (WARMUP_OFFSET + updates))


class WeightAverage(layers.Layer):
    """Holds ``average = decay * average + (1 - decay) * weights`` for a model.

    Every weight of the model is averaged, batch-norm statistics included,
    so that `copy_to` gives a complete model.

    Args:
        model: the model whose weights are averaged (a generator).
        decay: how much of the old average each update keeps, in [0, 1);
            0.999 averages over roughly the last 1,000 updates.
        warmup: use ``min(decay, (1 + t) / (10 + t))`` at update ``t``, so a
            short run is not dominated by its first (random) weights.
    """

    def __init__(self, model: keras.Model, decay: float = 0.999, warmup: bool = True, **kwargs):
        super().__init__(trainable=False, **kwargs)
        decay = check_non_negative_float("decay", decay)
        if decay >= 1:
            raise ValueError(f"`decay` must be in [0, 1), got {decay}")
        self.decay = decay
        self.warmup = bool(warmup)
        # Every replica computes the same average: keep the first one's.
        self.updates = self.add_weight(shape=(), initializer="zeros", dtype="float32", trainable=False,
                                       name="updates", aggregation="only_first_replica")
        self.averages = [
            self.add_weight(shape=tuple(weight.shape), initializer="zeros", dtype=weight.dtype, trainable=False,
                            name=weight.name.replace("/", "_"), aggregation="only_first_replica")
            for weight in model.weights
        ]
        for average, weight in zip(self.averages, model.weights):
            # A copy: on JAX, a variable holding the weight's own buffer would be
            # donated twice to the compiled train step.
            average.assign(ops.copy(weight.value))
        self.built = True

    def update(self, model: keras.Model) -> None:
        """Move the average one step towards `model`'s current weights."""
        self.updates.assign_add(1.0)
        decay = average_decay(self.decay, self.updates, self.warmup)
        for average, weight in zip(self.averages, model.weights):
            if not keras.backend.is_float_dtype(weight.dtype):  # e.g. a counter: copied, not averaged
                average.assign(weight.value)
                continue
            new = decay * ops.cast(average.value, "float32") + (1.0 - decay) * ops.cast(weight.value, "float32")
            average.assign(ops.cast(new, average.dtype))

    def copy_to(self, model: keras.Model) -> keras.Model:
        """Write the averaged weights into `model` (a model of the same
        architecture, e.g. a clone) and return it."""
        if len(model.weights) != len(self.averages):
            raise ValueError(f"`model` has {len(model.weights)} weights; the average holds {len(self.averages)}")
        model.set_weights([ops.convert_to_numpy(average.value) for average in self.averages])
        return model


def sampling_generator(model: keras.Model) -> keras.Model:
    """The generator to sample from a trained model: the moving average of
    a `GAN` compiled with ``ema``, else ``model.generator`` (the callbacks
    and `train` draw their grids, evaluations and saved generator from it)."""
    method = getattr(model, "sampling_generator", None)
    return method() if callable(method) else model.generator
