"""The variational autoencoder (Kingma & Welling, 2014).

Taught in `notebooks/06_vae_vs_gan.ipynb`.

An encoder ``q(z|x)`` maps an image to the mean and log-variance of a
Gaussian over the latent code; a decoder ``p(x|z)`` maps a code back to
pixel probabilities. Training maximises the evidence lower bound

    ELBO(x) = E_{q(z|x)}[log p(x|z)] - KL(q(z|x) || N(0, I)),

i.e. minimises *reconstruction loss + KL*. The sample ``z = mu + sigma * eps``
(the reparameterisation trick) keeps the path from the loss to the encoder
differentiable; ``eps`` comes from the model's `SeedGenerator`.

Images are in [-1, 1] as everywhere in gan_keras; the decoder outputs logits
of pixel intensities in [0, 1] (a Bernoulli likelihood per pixel), and
`decode` maps them back to [-1, 1].
"""

from __future__ import annotations

from typing import Sequence

import keras
import numpy as np
from keras import layers, ops

from gan_keras._saving import RandomStateMixin
from gan_keras._validation import check_non_negative_float, check_positive_int
from gan_keras.builders import check_image_shape, dcgan_plan
from gan_keras.data import checked_fit_arguments
from gan_keras.gan import call_in_batches, descend
from gan_keras.losses import global_batch_mean
from gan_keras.autodiff import stateless_train_step
from gan_keras.training.mixed_precision import uses_float16, with_loss_scaling


def build_encoder(latent_dim: int = 16, image_shape: Sequence[int] = (28, 28, 1), base_filters: int = 32) -> keras.Model:
    """Convolutional encoder: image -> ``[z_mean, z_log_var]``.

    Args:
        latent_dim: size of the latent code (2 makes it plottable).
        image_shape: as for `gan_keras.build_discriminator` (28x28x1, 32x32x3, 64x64x3, ...).
        base_filters: filters of the first convolution, doubling per stride-2 step.

    Returns:
        A `keras.Model` named ``"encoder"``.
    """
    latent_dim = check_positive_int("latent_dim", latent_dim)
    image_shape = check_image_shape(image_shape, "dcgan")
    _, steps = dcgan_plan(image_shape[0])
    images = keras.Input(image_shape, name="images")
    x = images
    filters = check_positive_int("base_filters", base_filters)
    for _ in range(steps):
        x = layers.Conv2D(filters, 3, strides=2, padding="same", activation="relu")(x)
        filters *= 2
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu")(x)
    # The code and the pixel logits stay float32 under mixed precision:
    # exp(z_log_var) and the ELBO need the range.
    z_mean = layers.Dense(latent_dim, name="z_mean", dtype="float32")(x)
    z_log_var = layers.Dense(latent_dim, name="z_log_var", dtype="float32")(x)
    return keras.Model(images, [z_mean, z_log_var], name="encoder")


def build_decoder(latent_dim: int = 16, image_shape: Sequence[int] = (28, 28, 1), base_filters: int = 32) -> keras.Model:
    """Convolutional decoder: code ``z`` -> pixel *logits* (apply `VAE.decode` for images).

    Returns:
        A `keras.Model` named ``"decoder"``.
    """
    latent_dim = check_positive_int("latent_dim", latent_dim)
    image_shape = check_image_shape(image_shape, "dcgan")
    start, steps = dcgan_plan(image_shape[0])
    filters = check_positive_int("base_filters", base_filters) * 2 ** (steps - 1)
    codes = keras.Input((latent_dim,), name="z")
    x = layers.Dense(start * start * filters, activation="relu")(codes)
    x = layers.Reshape((start, start, filters))(x)
    for _ in range(steps):
        x = layers.Conv2DTranspose(filters, 3, strides=2, padding="same", activation="relu")(x)
        filters = max(filters // 2, 1)
    logits = layers.Conv2D(image_shape[-1], 3, padding="same", name="pixel_logits", dtype="float32")(x)
    return keras.Model(codes, logits, name="decoder")


def kl_divergence(z_mean, z_log_var):
    """``KL(N(mu, sigma^2) || N(0, 1))`` summed over latent dimensions:
    ``-1/2 sum(1 + log sigma^2 - mu^2 - sigma^2)``, one value per example."""
    return -0.5 * ops.sum(1.0 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=-1)


def reconstruction_loss(images, logits):
    """``-log p(x|z)`` under a per-pixel Bernoulli on intensities in [0, 1],
    summed over pixels (one value per example). `images` are in [-1, 1]."""
    targets = (images + 1.0) / 2.0
    # Binary cross-entropy on logits, written stably: softplus(l) - t * l.
    per_pixel = ops.softplus(logits) - targets * logits
    return ops.sum(ops.reshape(per_pixel, (ops.shape(per_pixel)[0], -1)), axis=-1)


@keras.saving.register_keras_serializable(package="gan_keras")
class VAE(RandomStateMixin, keras.Model):
    """Encoder + decoder trained on the negative ELBO with `fit`.

    Args:
        encoder: from `build_encoder` (outputs ``[z_mean, z_log_var]``).
        decoder: from `build_decoder` (outputs pixel logits).
        beta: weight of the KL term (1 is the plain VAE; > 1 is a beta-VAE).
        seed: seed of the `SeedGenerator` for the reparameterisation noise.
        latent_dim: the code size; needed only for a subclassed decoder (a
            `keras.Model` with `call`, which declares no input).
    """

    def __init__(self, encoder: keras.Model, decoder: keras.Model, beta: float = 1.0, seed: int | None = None,
                 latent_dim: int | None = None, **kwargs):
        super().__init__(**kwargs)
        from gan_keras.gan import noise_size

        self.encoder = encoder
        self.decoder = decoder
        self.latent_dim = noise_size(decoder, latent_dim)
        # A subclassed network has no weights until called: build the decoder
        # on codes, then the encoder on its images.
        images = decoder(np.zeros((2, self.latent_dim), "float32"), training=False)
        self.image_shape = tuple(int(size) for size in images.shape[1:])
        code_size = int(encoder(images, training=False)[0].shape[-1])
        if code_size != self.latent_dim:
            raise ValueError(f"the encoder's code has size {code_size} but the decoder takes {self.latent_dim}")
        self.beta = check_non_negative_float("beta", beta)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_tracker = keras.metrics.Mean(name="kl_loss")
        # The decoder as a generator of images in [-1, 1]: sigmoid(l) * 2 - 1 = tanh(l / 2).
        # Its Input first, so that `generator.inputs` exists on every Keras version (3.3 leaves it undefined).
        self.generator = keras.Sequential(
            [keras.Input((self.latent_dim,)), decoder, layers.Rescaling(0.5), layers.Activation("tanh")],
            name="vae_generator",
        )
        self.built = True

    @property
    def metrics(self):
        return [self.loss_tracker, self.reconstruction_tracker, self.kl_tracker]

    def compile(self, optimizer: keras.optimizers.Optimizer | None = None, **kwargs) -> None:
        """Adam(1e-3) unless another optimizer is given; kwargs go to `keras.Model.compile`."""
        optimizer = optimizer if optimizer is not None else keras.optimizers.Adam(1e-3)
        if uses_float16(self.encoder, self.decoder):
            optimizer = with_loss_scaling(optimizer)
        super().compile(optimizer=optimizer, **kwargs)

    def fit(self, x=None, y=None, *args, **kwargs):
        """`keras.Model.fit`, after checking that `x` holds images of the
        decoder's shape, scaled to [-1, 1]."""
        kwargs = checked_fit_arguments(x, self.image_shape, kwargs)
        return super().fit(x, y, *args, **kwargs)

    def call(self, images, training: bool = False):
        """Reconstruct images (through a sampled code): returns images in [-1, 1]."""
        z_mean, z_log_var = self.encoder(images, training=training)
        return self.generator(self._sample(z_mean, z_log_var), training=training)

    def _sample(self, z_mean, z_log_var):
        epsilon = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon

    def _elbo_terms(self, images, training: bool):
        z_mean, z_log_var = self.encoder(images, training=training)
        logits = self.decoder(self._sample(z_mean, z_log_var), training=training)
        reconstruction = reconstruction_loss(images, logits)
        kl = kl_divergence(z_mean, z_log_var)
        return reconstruction, kl

    def train_step(self, *args):
        """One step down the negative ELBO. Keras calls ``train_step(data)`` on
        TensorFlow and PyTorch and ``train_step(state, data)`` on JAX (see
        `gan_keras.autodiff.stateless_train_step`)."""
        if len(args) == 2:
            state, data = args
            return stateless_train_step(self, state, lambda: self._train_on(data))
        return self._train_on(args[0])

    def _train_on(self, data) -> dict:
        images = data[0] if isinstance(data, (tuple, list)) else data

        def loss_fn():
            reconstruction, kl = self._elbo_terms(images, training=True)
            return global_batch_mean(reconstruction + self.beta * kl), (reconstruction, kl)

        # The negative ELBO, one gradient step for encoder and decoder together.
        loss, (reconstruction, kl) = descend(self, self.trainable_variables, self.optimizer, loss_fn)
        return self._record(loss, reconstruction, kl)

    def test_step(self, *args):
        if len(args) == 2:
            state, data = args
            return stateless_train_step(self, state, lambda: self._evaluate_on(data), with_optimizer=False)
        return self._evaluate_on(args[0])

    def _evaluate_on(self, data) -> dict:
        images = data[0] if isinstance(data, (tuple, list)) else data
        reconstruction, kl = self._elbo_terms(images, training=False)
        return self._record(global_batch_mean(reconstruction + self.beta * kl), reconstruction, kl)

    def _record(self, loss, reconstruction, kl) -> dict:
        self.loss_tracker.update_state(loss)
        self.reconstruction_tracker.update_state(global_batch_mean(reconstruction))
        self.kl_tracker.update_state(global_batch_mean(kl))
        return {metric.name: metric.result() for metric in self.metrics}

    # ------------------------------------------------------------ using it
    def encode(self, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """The mean code ``mu(x)`` of each image, ``[n, latent_dim]``."""
        z_mean, _ = call_in_batches(self.encoder, np.asarray(images, np.float32), batch_size)
        return z_mean

    def decode(self, codes: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Images in [-1, 1] (the decoder's mean) for codes ``[n, latent_dim]``."""
        codes = np.asarray(codes, np.float32)
        if codes.ndim != 2 or codes.shape[1] != self.latent_dim:
            raise ValueError(f"`codes` must have shape [n, {self.latent_dim}], got {codes.shape}")
        return call_in_batches(self.generator, codes, batch_size)

    def generate(self, n: int, seed: int | None = None, batch_size: int = 256) -> np.ndarray:
        """Decode `n` codes drawn from the prior N(0, I); a `seed` makes it repeatable."""
        n = check_positive_int("n", n)
        codes = keras.random.normal((n, self.latent_dim), seed=seed if seed is not None else self.seed_generator)
        return self.decode(ops.convert_to_numpy(codes), batch_size=batch_size)

    def get_compile_config(self) -> dict | None:
        """The optimizer, so that `keras.models.load_model` returns a VAE ready to train."""
        if self.optimizer is None:
            return None
        return {"optimizer": keras.saving.serialize_keras_object(self.optimizer)}

    def compile_from_config(self, config: dict) -> None:
        self.compile(optimizer=keras.saving.deserialize_keras_object(config["optimizer"]))
        # Build the slots now, so that the saved optimizer state loads into them.
        self.optimizer.build(self.trainable_variables)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            encoder=keras.saving.serialize_keras_object(self.encoder),
            decoder=keras.saving.serialize_keras_object(self.decoder),
            beta=self.beta,
            seed=self.seed,
            latent_dim=self.latent_dim,
        )
        return config

    @classmethod
    def from_config(cls, config: dict) -> "VAE":
        config = dict(config)
        config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        config["decoder"] = keras.saving.deserialize_keras_object(config["decoder"])
        return cls(**config)

