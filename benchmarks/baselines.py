"""Baselines re-implemented from public tutorials, for the benchmarks only.

`tutorial_dcgan_*`: the architecture and training step of TensorFlow's DCGAN
tutorial (tensorflow.org/tutorials/generative/dcgan): generator Dense(7*7*256)
-> Conv2DTranspose 128/64/1 with 5x5 kernels (2.33M parameters), discriminator
Conv2D 64/128 with 5x5 kernels and dropout 0.3 (0.21M), both trained with
Adam(1e-4) and binary cross-entropy, batch 256, in a hand-written
`@tf.function` loop that updates both networks from one generated batch.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
from keras import layers  # noqa: E402

try:  # the loops below need TensorFlow; the architectures do not
    import tensorflow as tf  # noqa: E402
except ImportError:
    tf = None

TUTORIAL_BATCH_SIZE = 256
TUTORIAL_LEARNING_RATE = 1e-4
TUTORIAL_LATENT_DIM = 100


def tutorial_dcgan_generator(latent_dim: int = TUTORIAL_LATENT_DIM) -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((latent_dim,)),
            layers.Dense(7 * 7 * 256, use_bias=False),
            layers.BatchNormalization(),
            layers.LeakyReLU(),
            layers.Reshape((7, 7, 256)),
            layers.Conv2DTranspose(128, 5, strides=1, padding="same", use_bias=False),
            layers.BatchNormalization(),
            layers.LeakyReLU(),
            layers.Conv2DTranspose(64, 5, strides=2, padding="same", use_bias=False),
            layers.BatchNormalization(),
            layers.LeakyReLU(),
            layers.Conv2DTranspose(1, 5, strides=2, padding="same", use_bias=False, activation="tanh"),
        ],
        name="generator",
    )


def tutorial_dcgan_discriminator() -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(64, 5, strides=2, padding="same"),
            layers.LeakyReLU(),
            layers.Dropout(0.3),
            layers.Conv2D(128, 5, strides=2, padding="same"),
            layers.LeakyReLU(),
            layers.Dropout(0.3),
            layers.Flatten(),
            layers.Dense(1),
        ],
        name="discriminator",
    )


class TutorialLoop:
    """The tutorial's hand-written training loop (simultaneous G and D update)."""

    def __init__(self, generator: keras.Model, discriminator: keras.Model, learning_rate: float = TUTORIAL_LEARNING_RATE):
        self.generator = generator
        self.discriminator = discriminator
        self.g_optimizer = keras.optimizers.Adam(learning_rate)
        self.d_optimizer = keras.optimizers.Adam(learning_rate)
        self.cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True)
        self.latent_dim = int(generator.inputs[0].shape[-1])
        self.train_step = tf.function(self._train_step)

    def _train_step(self, real_images):
        noise = tf.random.normal([tf.shape(real_images)[0], self.latent_dim])
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake_images = self.generator(noise, training=True)
            real_logits = self.discriminator(real_images, training=True)
            fake_logits = self.discriminator(fake_images, training=True)
            g_loss = self.cross_entropy(tf.ones_like(fake_logits), fake_logits)
            d_loss = self.cross_entropy(tf.ones_like(real_logits), real_logits) + self.cross_entropy(
                tf.zeros_like(fake_logits), fake_logits
            )
        g_grads = g_tape.gradient(g_loss, self.generator.trainable_variables)
        d_grads = d_tape.gradient(d_loss, self.discriminator.trainable_variables)
        self.g_optimizer.apply_gradients(zip(g_grads, self.generator.trainable_variables))
        self.d_optimizer.apply_gradients(zip(d_grads, self.discriminator.trainable_variables))
        return g_loss, d_loss

    def train_epoch(self, dataset) -> None:
        for real_images in dataset:
            self.train_step(real_images)


# --------------------------------------------------------------------------
# The GAN of the keras.io guide "Customizing what happens in fit()"
# (keras.io/guides/custom_train_step_in_tensorflow): latent size 128, images
# in [0, 1] with a sigmoid output, Adam(3e-4) for both networks, batch 64,
# D trained on a concatenated real+fake batch with noisy labels (fake = 1).
KERAS_GUIDE_LATENT_DIM = 128
KERAS_GUIDE_BATCH_SIZE = 64
KERAS_GUIDE_LEARNING_RATE = 3e-4


def keras_guide_generator(latent_dim: int = KERAS_GUIDE_LATENT_DIM) -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((latent_dim,)),
            layers.Dense(7 * 7 * 128),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Reshape((7, 7, 128)),
            layers.Conv2DTranspose(128, 4, strides=2, padding="same"),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Conv2DTranspose(128, 4, strides=2, padding="same"),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Conv2D(1, 7, padding="same", activation="sigmoid"),
        ],
        name="generator",
    )


def keras_guide_discriminator() -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(64, 3, strides=2, padding="same"),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Conv2D(128, 3, strides=2, padding="same"),
            layers.LeakyReLU(negative_slope=0.2),
            layers.GlobalMaxPooling2D(),
            layers.Dense(1),
        ],
        name="discriminator",
    )


class KerasGuideGAN(keras.Model):
    """The guide's train_step: D on [fake; real] with labels [1; 0] plus label
    noise, then G on fresh noise with "real" (0) labels."""

    def __init__(self, generator: keras.Model, discriminator: keras.Model, seed: int = 0):
        super().__init__()
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(generator.inputs[0].shape[-1])
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.built = True

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def compile(self, learning_rate: float = KERAS_GUIDE_LEARNING_RATE):
        super().compile()
        self.d_optimizer = keras.optimizers.Adam(learning_rate)
        self.g_optimizer = keras.optimizers.Adam(learning_rate)
        self.loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)

    def train_step(self, real_images):
        batch_size = tf.shape(real_images)[0]
        noise = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        fake_images = self.generator(noise)
        combined = tf.concat([fake_images, real_images], axis=0)
        labels = tf.concat([tf.ones((batch_size, 1)), tf.zeros((batch_size, 1))], axis=0)
        labels += 0.05 * keras.random.uniform(tf.shape(labels), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            d_loss = self.loss_fn(labels, self.discriminator(combined))
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))
        noise = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            g_loss = self.loss_fn(tf.zeros((batch_size, 1)), self.discriminator(self.generator(noise)))
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}
