"""Toy distributions for seeing GANs learn (and fail) in two dimensions.

Taught in `notebooks/02_gan_from_scratch.ipynb` and
`notebooks/05_stabilizing_training.ipynb`: the ring of eight Gaussians is the
classic picture of mode collapse (Metz et al., 2017). `train_ring_gan` is the
training recipe both notebooks and `tests/test_mode_collapse.py` use on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from gan_keras._validation import check_non_negative_float, check_positive_int

if TYPE_CHECKING:  # the GAN (and TensorFlow) load only when a ring GAN is trained
    from gan_keras.gan import GAN


def ring_centres(modes: int = 8, radius: float = 2.0) -> np.ndarray:
    """The `modes` centres evenly spaced on a circle, ``[modes, 2]``."""
    modes = check_positive_int("modes", modes)
    angles = 2 * np.pi * np.arange(modes) / modes
    return np.stack([radius * np.cos(angles), radius * np.sin(angles)], axis=1).astype(np.float32)


def ring_of_gaussians(n: int, modes: int = 8, radius: float = 2.0, std: float = 0.05, seed: int = 0) -> np.ndarray:
    """`n` points from an equal mixture of Gaussians placed on a ring.

    Returns:
        float32 ``[n, 2]``.
    """
    n = check_positive_int("n", n)
    std = check_non_negative_float("std", std)
    rng = np.random.default_rng(seed)
    centres = ring_centres(modes, radius)
    chosen = centres[rng.integers(0, len(centres), size=n)]
    return (chosen + rng.normal(scale=std, size=(n, 2))).astype(np.float32)


def count_modes(samples: np.ndarray, centres: np.ndarray, max_distance: float = 0.25, min_share: float = 0.02) -> dict:
    """How many mixture modes a set of samples covers.

    Args:
        samples: ``[n, 2]`` generated points.
        centres: the modes, e.g. `ring_centres()`.
        max_distance: a sample "hits" a mode when it lies this close to its centre.
        min_share: a mode is covered when at least this share of samples hits it.

    Returns:
        ``{"modes_covered": int, "share_per_mode": [...], "high_quality_share": share of
        samples that hit any mode}``.
    """
    samples = np.asarray(samples, np.float64)
    distances = np.linalg.norm(samples[:, None, :] - np.asarray(centres)[None, :, :], axis=2)
    nearest = distances.argmin(axis=1)
    hits = distances.min(axis=1) <= max_distance
    share = np.bincount(nearest[hits], minlength=len(centres)) / len(samples)
    return {
        "modes_covered": int(np.sum(share >= min_share)),
        "share_per_mode": [float(value) for value in share],
        "high_quality_share": float(hits.mean()),
    }


@dataclass
class RingRun:
    """What `train_ring_gan` produced.

    Attributes:
        gan: the trained `GAN`.
        data: the ring samples it was trained on, ``[n, 2]``.
        samples: points it generated after training, ``[n_samples, 2]``.
        modes: `count_modes` of `samples` against the ring's centres.
        history: the per-epoch logs of `fit` (``d_loss``, ``g_loss``, ...).
    """

    gan: "GAN"
    data: np.ndarray
    samples: np.ndarray
    modes: dict
    history: dict

    @property
    def modes_covered(self) -> int:
        """How many of the ring's modes the samples cover."""
        return self.modes["modes_covered"]


def train_ring_gan(
    loss: str = "minimax",
    epochs: int = 15,
    seed: int = 0,
    *,
    modes: int = 8,
    n: int = 8192,
    std: float = 0.02,
    hidden_units: tuple[int, ...] = (256, 256),
    batch_size: int = 256,
    learning_rate: float = 2e-3,
    d_steps: int | None = None,
    gradient_penalty_weight: float = 0.1,
    label_smoothing: float = 0.0,
    n_samples: int = 2000,
    sample_seed: int = 1,
) -> RingRun:
    """Train an MLP GAN on a ring of Gaussians and count the modes it reaches.

    The recipe of `notebooks/02_gan_from_scratch.ipynb` (the minimax GAN
    missing modes), `notebooks/05_stabilizing_training.ipynb` (five losses
    compared) and `tests/test_mode_collapse.py`: a 2-D generator and
    discriminator with two hidden layers of 256 units each, Adam with
    ``beta_1 = 0.5`` for both, one seed for the data, the weights, the batch
    order and the noise.

    For ``loss="wgan_gp"`` it follows the toy-data recipe of Gulrajani et al.
    (2017) rather than the other losses' settings: 5 critic updates per
    generator update, Adam ``beta_2 = 0.9`` and a gradient-penalty weight of
    0.1. The other losses take 1 discriminator update and ``beta_2 = 0.999``
    (Keras' default). Both get the same learning rate and the same number of
    generator updates, so WGAN-GP's critic does five times the work.

    Args:
        loss: a name from `gan_keras.losses.LOSSES`.
        epochs: passes over the `n` ring samples.
        seed: seeds the ring data, the initial weights, the batch order and
            the training noise.
        modes: Gaussians on the ring.
        n: training samples drawn from the ring.
        std: standard deviation of each Gaussian (the ring has radius 2).
        hidden_units: sizes of the hidden layers of both MLPs.
        batch_size: samples per step (the last partial batch is dropped).
        learning_rate: Adam learning rate of both networks.
        d_steps: discriminator (critic) updates per generator update; default
            5 for ``"wgan_gp"`` and 1 otherwise.
        gradient_penalty_weight: lambda of WGAN-GP (ignored by other losses).
        label_smoothing: one-sided label smoothing of D's real target (see `GAN.compile`).
        n_samples: points generated after training to count the modes.
        sample_seed: seed of the noise behind those points.

    Returns:
        A `RingRun` with the GAN, its training data, its samples, their mode
        count and the training history.
    """
    import keras
    import tensorflow as tf

    from gan_keras.builders import build_discriminator, build_generator
    from gan_keras.gan import GAN

    epochs = check_positive_int("epochs", epochs)
    n_samples = check_positive_int("n_samples", n_samples)
    wgan_gp = loss == "wgan_gp"
    if d_steps is None:
        d_steps = 5 if wgan_gp else 1
    beta_2 = 0.9 if wgan_gp else 0.999

    keras.utils.set_random_seed(seed)
    data = ring_of_gaussians(n, modes=modes, std=std, seed=seed)
    gan = GAN(
        build_generator(2, (2,), kind="mlp", hidden_units=hidden_units, output_activation=None),
        build_discriminator((2,), kind="mlp", hidden_units=hidden_units, dropout=0.0),
        seed=seed,
    )
    gan.compile(
        keras.optimizers.Adam(learning_rate, beta_1=0.5, beta_2=beta_2),
        keras.optimizers.Adam(learning_rate, beta_1=0.5, beta_2=beta_2),
        loss=loss,
        d_steps=d_steps,
        gradient_penalty_weight=gradient_penalty_weight,
        label_smoothing=label_smoothing,
    )
    dataset = tf.data.Dataset.from_tensor_slices(data).shuffle(len(data), seed=seed).batch(batch_size, drop_remainder=True)
    history = gan.fit(dataset, epochs=epochs, verbose=0).history
    samples = gan.generate(n_samples, seed=sample_seed)
    return RingRun(gan, data, samples, count_modes(samples, ring_centres(modes)), history)
