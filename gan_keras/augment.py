"""Differentiable augmentation: D sees shifted, partly hidden digits, real and generated alike.

Taught in `notebooks/03_dcgan_mnist.ipynb` (the recipe of ``--model dcgan``)
and `notebooks/05_stabilizing_training.ipynb`.

With a few thousand training images, a discriminator soon memorises them and
stops teaching G anything general. DiffAugment (Zhao et al., 2020) shows D
every image, real *and* generated, through the same random transforms:
D cannot tell real from fake by the transform, so G is not pushed to make
shifted or blanked digits, and because the transforms are differentiable
G's gradient flows back through them. Two transforms, both from the paper:

- **translation**: shift each image by a whole number of pixels, up to
  `translation` of its size each way (the uncovered border is background);
- **cutout**: blank one square of `cutout` of the image's size at a random
  place in each image.

Both are written with `keras.ops` (one-hot shift matrices and a mask), so
the same code runs, and is differentiated, on TensorFlow, JAX and PyTorch.
`GAN.compile(augment=...)` applies `diff_augment` wherever D is called.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import keras
from keras import ops

from gan_keras._validation import check_non_negative_float
from gan_keras.training.distribute import replica_random


@dataclass(frozen=True)
class Augmentation:
    """How much `diff_augment` shifts and blanks.

    Attributes:
        translation: largest shift, as a share of the image's height and width
            (0.125: up to 4 pixels of 28); 0 turns translation off.
        cutout: side of the blanked square, as a share of the image's size
            (0.5: 14 of 28 pixels, as in the paper); 0 turns cutout off.
        fill: the value of uncovered and blanked pixels: -1, the background
            of images in [-1, 1].
    """

    translation: float = 0.125
    cutout: float = 0.5
    fill: float = -1.0
    # Whether D sees anything changed; a plain attribute, read on every step.
    active: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        check_non_negative_float("translation", self.translation, maximum=0.5)
        check_non_negative_float("cutout", self.cutout, maximum=1.0)
        object.__setattr__(self, "active", self.translation > 0 or self.cutout > 0)  # the dataclass is frozen


# The named settings `GAN.compile(augment=...)` and ``--augment`` accept.
AUGMENTATIONS = {
    "none": Augmentation(translation=0.0, cutout=0.0),
    "translation": Augmentation(cutout=0.0),
    "cutout": Augmentation(translation=0.0),
    "translation_cutout": Augmentation(),
}


def get_augmentation(augment: str | Augmentation | None) -> Augmentation:
    """The `Augmentation` called `augment` (``None`` is ``"none"``)."""
    if augment is None:
        return AUGMENTATIONS["none"]
    if isinstance(augment, Augmentation):
        return augment
    if not isinstance(augment, str) or augment not in AUGMENTATIONS:
        raise ValueError(f"`augment` must be one of {sorted(AUGMENTATIONS)} or an Augmentation, got {augment!r}")
    return AUGMENTATIONS[augment]


def diff_augment(images, augmentation: Augmentation, seed=None):
    """Randomly translate and cut out each image of a batch ``[batch, height, width, channels]``.

    Args:
        images: the batch (real or generated).
        augmentation: the `Augmentation` to apply.
        seed: an int or `keras.random.SeedGenerator`; each call draws new
            shifts and squares from it.

    Returns:
        The augmented batch, the same shape; its gradient with respect to
        `images` is the transform itself (a shifted, masked copy).
    """
    if augmentation.translation > 0:
        images = translate(images, augmentation.translation, augmentation.fill, seed)
    if augmentation.cutout > 0:
        images = cutout(images, augmentation.cutout, augmentation.fill, seed)
    return images


def _shift_matrices(offsets, size: int):
    """One-hot matrices ``[batch, size, size]``: row ``i`` picks source pixel ``i - offset``
    (an all-zero row where that falls outside the image)."""
    positions = ops.arange(size, dtype="float32")
    source = positions[None, :, None] - offsets[:, None, None]
    return ops.cast(ops.equal(positions[None, None, :], source), "float32")


def translate(images, ratio: float, fill: float = -1.0, seed=None):
    """Shift each image by up to ``ratio * size`` whole pixels in each direction.

    A shift is a product with one-hot matrices, ``rows @ image @ columns^T``,
    so it is exact (no interpolation) and differentiable.
    """
    images = ops.convert_to_tensor(images)
    height, width = int(images.shape[1]), int(images.shape[2])
    batch_size = ops.shape(images)[0]
    largest = ops.convert_to_tensor([int(ratio * height + 0.5), int(ratio * width + 0.5)], dtype="float32")
    # Whole shifts, uniform in [-largest, largest] for rows and for columns.
    uniform = replica_random(keras.random.uniform, batch_size, (2,), seed=seed)
    offsets = ops.floor(uniform * (2 * largest + 1)) - largest
    rows = ops.cast(_shift_matrices(offsets[:, 0], height), images.dtype)
    columns = ops.cast(_shift_matrices(offsets[:, 1], width), images.dtype)
    # Rows, then columns: two small batched products (one three-way einsum may
    # be evaluated in a far more expensive order).
    shifted = ops.einsum("bjl,bilc->bijc", columns, ops.einsum("bik,bklc->bilc", rows, images))
    # Pixels whose source lies outside the image: background.
    covered = ops.sum(rows, axis=2)[:, :, None, None] * ops.sum(columns, axis=2)[:, None, :, None]
    return shifted + fill * (1.0 - covered)


def cutout(images, ratio: float, fill: float = -1.0, seed=None):
    """Blank one square of side ``ratio * size`` per image, centred anywhere in it
    (clipped at the border, as in Zhao et al.'s code)."""
    images = ops.convert_to_tensor(images)
    height, width = int(images.shape[1]), int(images.shape[2])
    batch_size = ops.shape(images)[0]
    half_height, half_width = int(ratio * height + 0.5) // 2, int(ratio * width + 0.5) // 2
    uniform = replica_random(keras.random.uniform, batch_size, (2,), seed=seed)
    centres = ops.floor(uniform * ops.convert_to_tensor([height, width], dtype="float32"))
    row_inside = _within(ops.arange(height, dtype="float32")[None, :] - centres[:, :1], half_height)
    column_inside = _within(ops.arange(width, dtype="float32")[None, :] - centres[:, 1:], half_width)
    blanked = ops.cast(ops.logical_and(row_inside[:, :, None], column_inside[:, None, :]), images.dtype)[..., None]
    return images * (1.0 - blanked) + fill * blanked


def _within(distance, half: int):
    # [centre - half, centre + half): a square of 2 * half pixels.
    return ops.logical_and(distance >= -half, distance < half)
