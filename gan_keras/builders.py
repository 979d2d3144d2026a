"""Generator and discriminator builders.

Taught in `notebooks/02_gan_from_scratch.ipynb` (``kind="mlp"``, the original
GAN of Goodfellow et al., 2014) and `notebooks/03_dcgan_mnist.ipynb`
(``kind="dcgan"``, the convolutional design of Radford et al., 2015).

Both builders return functional `keras.Model`s. The discriminator ends in a
single linear unit: it outputs *logits*, not probabilities, so every loss in
`gan_keras.losses` can be applied to it and the sigmoid is folded into a
numerically stable softplus.

With ``num_classes`` the models become class-conditional (Mirza & Osindero,
2014): they take ``[inputs, labels]`` and a learned label embedding is joined
to the noise (generator) or to the image as an extra channel (discriminator).
"""

from __future__ import annotations

import math
import random
from typing import Sequence

import keras
from keras import layers

from gan_keras._validation import check_choice, check_non_negative_float, check_positive_int
from gan_keras.training.distribute import synchronized_batch_norm

KINDS = ("dcgan", "mlp")
# Label embeddings are small: ten digit classes need few dimensions.
LABEL_EMBEDDING_DIM = 50


def build_generator(
    latent_dim: int = 100,
    image_shape: Sequence[int] = (28, 28, 1),
    kind: str = "dcgan",
    num_classes: int | None = None,
    *,
    base_filters: int = 32,
    kernel_size: int = 4,
    hidden_units: Sequence[int] = (256, 512, 1024),
    output_activation: str = "tanh",
) -> keras.Model:
    """Build a generator mapping noise ``z`` (and a label) to an image.

    Args:
        latent_dim: size of the noise vector ``z``.
        image_shape: output shape. ``dcgan`` needs a square ``(side, side, channels)``
            with 1 or 3 channels and a side divisible by 4 and at least 16, e.g.
            ``(28, 28, 1)``, ``(32, 32, 3)``, ``(64, 64, 3)``. ``mlp`` takes any shape,
            including ``(2,)`` for toy 2-D data.
        kind: ``"dcgan"`` (transposed convolutions + batch norm) or ``"mlp"``.
        num_classes: if set, the generator takes ``[z, labels]``.
        base_filters: ``dcgan`` filters in the last hidden layer; they double
            towards the smallest resolution. 32 (not the paper's 128) keeps a
            CPU run fast: on MNIST it learned all ten digits in 5 CPU minutes,
            where 64 ran 3x slower and covered fewer classes in that time.
        kernel_size: ``dcgan`` kernel size (4 divides the stride-2 steps evenly,
            which avoids checkerboard artefacts).
        hidden_units: ``mlp`` hidden layer sizes.
        output_activation: ``"tanh"`` for images in [-1, 1]; ``None`` or
            ``"linear"`` for unbounded toy data.

    Returns:
        A `keras.Model` named ``"generator"``.
    """
    check_choice("kind", kind, KINDS)
    latent_dim = check_positive_int("latent_dim", latent_dim)
    image_shape = check_image_shape(image_shape, kind)
    num_classes = _check_num_classes(num_classes)

    noise = keras.Input((latent_dim,), name="noise")
    inputs = [noise]
    features = noise
    if num_classes is not None:
        labels = keras.Input((), dtype="int32", name="labels")
        inputs.append(labels)
        embedded = layers.Embedding(num_classes, LABEL_EMBEDDING_DIM, name="label_embedding")(labels)
        features = layers.Concatenate(name="noise_and_label")([noise, embedded])

    if kind == "dcgan":
        start_side, upsamplings = dcgan_plan(image_shape[0])
        check_positive_int("base_filters", base_filters)
        check_positive_int("kernel_size", kernel_size)
        filters = base_filters * 2 ** (upsamplings - 1)
        # Project and reshape: the dense layer plays the role of the first
        # "fractionally strided" convolution of the DCGAN paper.
        x = layers.Dense(start_side * start_side * filters, use_bias=False)(features)
        x = _batch_norm()(x)
        x = layers.LeakyReLU(0.2)(x)
        x = layers.Reshape((start_side, start_side, filters))(x)
        for _ in range(upsamplings - 1):
            filters //= 2
            x = layers.Conv2DTranspose(filters, kernel_size, strides=2, padding="same", use_bias=False)(x)
            x = _batch_norm()(x)
            x = layers.LeakyReLU(0.2)(x)
        # No batch norm on the output layer (Radford et al.): it would pin the
        # image statistics instead of letting tanh span [-1, 1]. float32 even
        # under mixed precision: images leave the model at full precision.
        outputs = layers.Conv2DTranspose(
            image_shape[-1], kernel_size, strides=2, padding="same",
            activation=_activation(output_activation), name="image", dtype="float32",
        )(x)
    else:
        x = features
        for units in _check_hidden_units(hidden_units):
            x = layers.Dense(units)(x)
            x = layers.LeakyReLU(0.2)(x)
        x = layers.Dense(math.prod(image_shape), activation=_activation(output_activation), dtype="float32")(x)
        outputs = layers.Reshape(image_shape, name="image")(x)
    return keras.Model(inputs if num_classes is not None else noise, outputs, name="generator")


@keras.saving.register_keras_serializable(package="gan_keras")
class MinibatchStddev(layers.Layer):
    """Append one feature map holding how much the batch varies (Karras et al., 2018).

    The standard deviation of every feature over the batch, averaged into one
    number, becomes an extra channel of every image. A generator that draws
    the same digit again and again gives its batches a tell-tale low value,
    which D can learn to reject: a check against mode collapse that a
    per-image D cannot make. D sees real and generated batches separately
    (`GAN.discriminator_loss`), so each batch is judged by its own spread.
    """

    def call(self, inputs):
        spread = keras.ops.sqrt(keras.ops.var(inputs, axis=0) + 1e-8)
        average = keras.ops.mean(spread)
        shape = keras.ops.shape(inputs)
        plane = keras.ops.ones((shape[0], shape[1], shape[2], 1), dtype=inputs.dtype) * keras.ops.cast(
            average, inputs.dtype)
        return keras.ops.concatenate([inputs, plane], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + 1)


def _dropout(rate: float, spatial: bool = False) -> layers.Dropout:
    """A Dropout layer with its own seed, drawn as Keras would draw it (so
    `keras.utils.set_random_seed` fixes it). With an explicit seed its masks
    come from its `SeedGenerator` on every backend, whose state a backup
    saves; without one, the PyTorch backend draws them from torch's global
    generator, and a resumed run would not replay them. `spatial` drops whole
    feature maps (`SpatialDropout2D`, a `Dropout` subclass)."""
    # Keras draws a layer's default seed the same way, and only for rate > 0:
    # the same draws keep runs seeded before this change reproducible.
    seed = random.randint(1, int(1e9)) if rate > 0 else None
    return layers.SpatialDropout2D(rate, seed=seed) if spatial else layers.Dropout(rate, seed=seed)


def build_discriminator(
    image_shape: Sequence[int] = (28, 28, 1),
    kind: str = "dcgan",
    num_classes: int | None = None,
    *,
    base_filters: int = 32,
    kernel_size: int = 4,
    hidden_units: Sequence[int] = (512, 256),
    dropout: float = 0.3,
    spatial_dropout: bool = False,
    minibatch_stddev: bool = False,
) -> keras.Model:
    """Build a discriminator mapping an image (and a label) to one logit.

    Args:
        image_shape: input shape; the same rules as `build_generator`.
        kind: ``"dcgan"`` (strided convolutions) or ``"mlp"``.
        num_classes: if set, the discriminator takes ``[images, labels]``.
        base_filters: ``dcgan`` filters of the first convolution; they double
            with each stride-2 step.
        kernel_size: ``dcgan`` kernel size.
        hidden_units: ``mlp`` hidden layer sizes.
        dropout: dropout rate after each hidden block; it keeps D from
            memorising a small dataset and overpowering G early.
        spatial_dropout: ``dcgan`` only: drop whole feature maps
            (`keras.layers.SpatialDropout2D`, one random draw per channel)
            instead of single units (one draw per unit, which costs a
            sixth of a CPU training step; docs/speed.md).
        minibatch_stddev: ``dcgan`` only: before the last layer, append the
            batch's average standard deviation as one more feature map
            (`MinibatchStddev`), so D can spot a generator short of variety.

    Returns:
        A `keras.Model` named ``"discriminator"`` whose output is a logit
        (real if > 0); apply a loss from `gan_keras.losses`, not a sigmoid.
    """
    check_choice("kind", kind, KINDS)
    image_shape = check_image_shape(image_shape, kind)
    num_classes = _check_num_classes(num_classes)
    dropout = check_non_negative_float("dropout", dropout, maximum=0.99)
    if not isinstance(spatial_dropout, bool):
        raise TypeError(f"`spatial_dropout` must be True or False, got {spatial_dropout!r}")
    if not isinstance(minibatch_stddev, bool):
        raise TypeError(f"`minibatch_stddev` must be True or False, got {minibatch_stddev!r}")
    if minibatch_stddev and kind != "dcgan":
        raise ValueError(f"`minibatch_stddev`=True adds a feature map: it needs kind='dcgan', got kind={kind!r}")
    if spatial_dropout and kind != "dcgan":
        raise ValueError(f"`spatial_dropout`=True drops convolutional feature maps: it needs kind='dcgan', got kind={kind!r}")

    images = keras.Input(image_shape, name="images")
    inputs = [images]
    x = images
    if num_classes is not None:
        labels = keras.Input((), dtype="int32", name="labels")
        inputs.append(labels)
        embedded = layers.Embedding(num_classes, LABEL_EMBEDDING_DIM, name="label_embedding")(labels)
        if kind == "dcgan":
            # The label becomes one more image channel, so the first
            # convolution already sees "which digit this should be".
            side = image_shape[0]
            label_plane = layers.Dense(side * side)(embedded)
            label_plane = layers.Reshape((side, side, 1))(label_plane)
            x = layers.Concatenate(name="image_and_label")([images, label_plane])
        else:
            x = layers.Concatenate(name="image_and_label")([layers.Flatten()(images), embedded])

    if kind == "dcgan":
        _, downsamplings = dcgan_plan(image_shape[0])
        check_positive_int("base_filters", base_filters)
        check_positive_int("kernel_size", kernel_size)
        filters = base_filters
        for _ in range(downsamplings):
            x = layers.Conv2D(filters, kernel_size, strides=2, padding="same")(x)
            x = layers.LeakyReLU(0.2)(x)
            x = _dropout(dropout, spatial_dropout)(x)
            filters *= 2
        if minibatch_stddev:
            x = MinibatchStddev(name="minibatch_stddev")(x)
        x = layers.Flatten()(x)
    else:
        if num_classes is None:
            x = layers.Flatten()(x)
        for units in _check_hidden_units(hidden_units):
            x = layers.Dense(units)(x)
            x = layers.LeakyReLU(0.2)(x)
            x = _dropout(dropout)(x)
    # float32 logits even under mixed precision, so the losses built on them
    # (log-sigmoids, squares) are computed at full precision.
    logits = layers.Dense(1, name="logit", dtype="float32")(x)
    return keras.Model(inputs if num_classes is not None else images, logits, name="discriminator")


def _batch_norm() -> layers.BatchNormalization:
    # Under a distribution strategy, normalise with the global batch's
    # statistics so that a replicated step equals a single-device one.
    return layers.BatchNormalization(synchronized=synchronized_batch_norm())


def dcgan_plan(side: int) -> tuple[int, int]:
    """Return (start side, number of stride-2 steps) for a square DCGAN image.

    The generator starts from the smallest side of at least 4 that doubles up
    to ``side`` exactly: 28 -> 7 (2 steps), 32 -> 4 (3 steps), 64 -> 4 (4 steps).
    """
    steps = 0
    while side % 2 ** (steps + 1) == 0 and side // 2 ** (steps + 1) >= 4:
        steps += 1
    return side // 2**steps, steps


def check_image_shape(image_shape: Sequence[int], kind: str) -> tuple[int, ...]:
    """`image_shape` as a tuple of ints, or a ValueError/TypeError saying what `kind` allows."""
    try:
        shape = tuple(int(dim) for dim in image_shape)
    except (TypeError, ValueError):
        raise TypeError(f"`image_shape` must be a tuple of ints, got {image_shape!r}") from None
    if not shape or any(dim < 1 for dim in shape):
        raise ValueError(f"`image_shape` must hold positive sizes, got {shape}")
    if kind == "dcgan":
        allowed = "a square (side, side, channels) with 1 or 3 channels and a side divisible by 4 and >= 16, e.g. (28, 28, 1), (32, 32, 3), (64, 64, 3)"
        if len(shape) != 3 or shape[0] != shape[1] or shape[2] not in (1, 3):
            raise ValueError(f"`image_shape` for kind='dcgan' must be {allowed}; got {shape}")
        if shape[0] < 16 or shape[0] % 4 != 0:
            raise ValueError(f"`image_shape` for kind='dcgan' must be {allowed}; got {shape}")
    return shape


def _check_num_classes(num_classes: int | None) -> int | None:
    if num_classes is None:
        return None
    return check_positive_int("num_classes", num_classes, minimum=2)


def _check_hidden_units(hidden_units: Sequence[int]) -> list[int]:
    units = list(hidden_units)
    if not units:
        raise ValueError("`hidden_units` must name at least one layer size, got an empty sequence")
    return [check_positive_int("hidden_units", value) for value in units]


def _activation(name: str | None) -> str | None:
    return None if name in (None, "linear") else name
