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
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

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

    @tf.function
    def train_step(self, real_images):
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
