"""Batches of NumPy arrays for `fit` on any Keras backend, without `tf.data`.

Used by `gan_keras.data.make_dataset` on the JAX and PyTorch backends, where
TensorFlow may not be installed at all (the TensorFlow backend keeps its
`tf.data` pipeline).
"""

from __future__ import annotations

import keras
import numpy as np


class ArrayBatches(keras.utils.PyDataset):
    """Shuffled fixed-size batches of images (and labels), reshuffled every epoch.

    Args:
        images: float32 ``[N, H, W, C]``.
        labels: optional int32 ``[N]``: batches are then ``(images, labels)``.
        batch_size: images per batch.
        seed: seeds the shuffling: epoch ``e`` always sees the same order, so
            a run resumed at epoch ``e`` (`set_epoch`) trains on exactly the
            batches an uninterrupted run would have.
        shuffle: reshuffle at the end of every epoch.
        drop_remainder: leave out the last short batch.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray | None = None, batch_size: int = 64,
                 seed: int | None = 0, shuffle: bool = True, drop_remainder: bool = True):
        super().__init__()
        self.images = images
        self.labels = labels
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_remainder = drop_remainder
        self.seed = 0 if seed is None else seed
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        """Serve the batches of `epoch` (counted from 0) next."""
        self.epoch = epoch
        rng = np.random.default_rng([self.seed, epoch])
        self._order = rng.permutation(len(self.images)) if self.shuffle else np.arange(len(self.images))

    def __len__(self) -> int:
        full, rest = divmod(len(self.images), self.batch_size)
        return full + (1 if rest and not self.drop_remainder else 0)

    def __getitem__(self, index: int):
        rows = self._order[index * self.batch_size:(index + 1) * self.batch_size]
        if self.labels is None:
            return self.images[rows]
        return self.images[rows], self.labels[rows]

    def on_epoch_end(self) -> None:
        self.set_epoch(self.epoch + 1)
