"""Training recipes that several notebooks share, kept here so they agree.

- `train_dcgan_and_vae`: the DCGAN and the VAE of
  `notebooks/06_vae_vs_gan.ipynb` and
  `notebooks/07_evaluating_generative_models.ipynb`, trained with the same
  budget on the same digits.
- The ring-of-Gaussians GAN of notebooks 02 and 05 is `gan_keras.teaching.toy.train_ring_gan`.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from gan_keras._validation import check_positive_int
from gan_keras.data import make_dataset
from gan_keras.gan import GAN
from gan_keras.training import CLASSIC_DCGAN, TrainConfig, build_gan
from gan_keras.vae import VAE


@dataclass
class DigitModels:
    """A DCGAN and a VAE trained side by side, with their training histories.

    Attributes:
        gan: the trained `GAN` (the DCGAN of `CLASSIC_DCGAN`).
        vae: the trained `VAE` (``python -m gan_keras train --model vae``).
        gan_history: the GAN's per-epoch logs (``d_loss``, ``g_loss``, ...).
        vae_history: the VAE's per-epoch logs (``loss``, ``reconstruction_loss``, ``kl_loss``).
    """

    gan: GAN
    vae: VAE
    gan_history: dict
    vae_history: dict


def train_dcgan_and_vae(
    images: np.ndarray,
    epochs: int,
    *,
    seed: int = 0,
    batch_size: int = 64,
    vae_latent_dim: int = 16,
    verbose: int | str = 0,
) -> DigitModels:
    """Train a DCGAN (`CLASSIC_DCGAN`), then the default VAE, on the same digits for the same epochs.

    Used by `notebooks/06_vae_vs_gan.ipynb` (the VAE against the GAN) and
    `notebooks/07_evaluating_generative_models.ipynb` (both scored by the
    evaluator), so that the two notebooks train the same models. The models
    are the ones `gan_keras.training.build_gan` builds for the command line:
    the DCGAN of `CLASSIC_DCGAN` (non-saturating loss, Adam(2e-4, beta_1 =
    0.5) for both networks, dropout 0.3; the notebooks' figures were measured
    with it), the VAE with its own default optimizer. Both see the same
    batches (one shuffled `tf.data` pipeline, seeded).

    Args:
        images: training images ``[N, 28, 28, 1]`` scaled to [-1, 1].
        epochs: passes over `images`, for each model.
        seed: seeds the weights, the batch order and the noise; the same seed
            gives the same models.
        batch_size: images per step, for both models.
        vae_latent_dim: size of the VAE's code (the GAN's noise stays 100).
        verbose: Keras `fit` verbosity, for both models.

    Returns:
        A `DigitModels` with both trained models and their histories.
    """
    epochs = check_positive_int("epochs", epochs)
    keras.utils.set_random_seed(seed)
    image_shape = tuple(np.shape(images)[1:])
    dataset = make_dataset(images, batch_size=batch_size, seed=seed)

    gan = build_gan(TrainConfig(**CLASSIC_DCGAN, seed=seed).validate(), image_shape=image_shape)
    gan_history = gan.fit(dataset, epochs=epochs, verbose=verbose).history
    vae = build_gan(TrainConfig(model="vae", latent_dim=vae_latent_dim, seed=seed).validate(), image_shape=image_shape)
    vae_history = vae.fit(dataset, epochs=epochs, verbose=verbose).history
    return DigitModels(gan, vae, gan_history, vae_history)
