"""A generative classifier you can read in one screen: Gaussians in PCA space.

Taught in `notebooks/01_generative_vs_discriminative.ipynb`.

A *discriminative* model learns ``p(y | x)`` directly. A *generative* one
learns how the data is made, ``p(x | y)`` and ``p(y)``, so it can both
**sample** new ``x`` and **classify** through Bayes' rule,

    p(y | x) = p(x | y) p(y) / sum_k p(x | k) p(k).

`PCAGaussianModel` projects images onto their top principal components and
fits one full-covariance Gaussian per class there: small enough to fit in a
second with NumPy, yet its samples already look like digits.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from gan_keras._validation import check_positive_int


class PCAGaussianModel:
    """Class-conditional Gaussians in a PCA subspace.

    Args:
        components: PCA dimensions kept.
        regularization: added to each covariance's diagonal, so that a class
            with few images still has an invertible covariance.
    """

    def __init__(self, components: int = 30, regularization: float = 1e-3):
        self.components = check_positive_int("components", components)
        self.regularization = float(regularization)
        self.mean_: np.ndarray | None = None

    def fit(self, images: np.ndarray, labels: np.ndarray) -> "PCAGaussianModel":
        """Fit the PCA basis, the class priors and one Gaussian per class."""
        flat = self._flatten(images)
        labels = np.asarray(labels)
        if labels.shape != (len(flat),):
            raise ValueError(f"`labels` must have shape ({len(flat)},), got {labels.shape}")
        if self.components > min(flat.shape):
            raise ValueError(f"`components` ({self.components}) must be at most {min(flat.shape)} for this data")
        self.image_shape_ = np.asarray(images).shape[1:]
        self.mean_ = flat.mean(axis=0)
        # The principal axes are the right singular vectors of the centred data.
        _, _, right = np.linalg.svd(flat - self.mean_, full_matrices=False)
        self.basis_ = right[: self.components]
        codes = self.project(images)
        self.classes_ = np.unique(labels)
        self.log_priors_ = np.log(np.array([np.mean(labels == k) for k in self.classes_]))
        self.class_means_ = np.stack([codes[labels == k].mean(axis=0) for k in self.classes_])
        ridge = self.regularization * np.eye(self.components)
        self.class_covariances_ = np.stack(
            [np.cov(codes[labels == k], rowvar=False) + ridge for k in self.classes_]
        )
        return self

    def project(self, images: np.ndarray) -> np.ndarray:
        """PCA codes ``[n, components]`` of images."""
        self._check_fitted()
        return (self._flatten(images) - self.mean_) @ self.basis_.T

    def reconstruct(self, codes: np.ndarray) -> np.ndarray:
        """Images (clipped to [-1, 1]) for PCA codes."""
        self._check_fitted()
        flat = np.asarray(codes) @ self.basis_ + self.mean_
        return np.clip(flat, -1.0, 1.0).reshape((-1, *self.image_shape_)).astype(np.float32)

    def log_likelihood(self, images: np.ndarray) -> np.ndarray:
        """``log p(x | y = k)`` in PCA space, ``[n, classes]``."""
        codes = self.project(images)
        columns = []
        for mean, covariance in zip(self.class_means_, self.class_covariances_):
            _, log_det = np.linalg.slogdet(covariance)
            centred = codes - mean
            mahalanobis = np.sum(centred @ np.linalg.inv(covariance) * centred, axis=1)
            columns.append(-0.5 * (mahalanobis + log_det + self.components * np.log(2 * np.pi)))
        return np.stack(columns, axis=1)

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        """``p(y | x)`` by Bayes' rule from ``p(x | y)`` and ``p(y)``."""
        joint = self.log_likelihood(images) + self.log_priors_
        return np.exp(joint - logsumexp(joint, axis=1, keepdims=True))

    def predict(self, images: np.ndarray) -> np.ndarray:
        """The most probable class of each image."""
        probabilities = self.predict_proba(images)
        return self.classes_[probabilities.argmax(axis=1)]

    def sample(self, labels, seed: int | None = None) -> np.ndarray:
        """Draw one new image for each label: a code from the class Gaussian, mapped back to pixels."""
        self._check_fitted()
        labels = np.atleast_1d(labels)
        unknown = set(labels.tolist()) - set(self.classes_.tolist())
        if unknown:
            raise ValueError(f"`labels` must be among {self.classes_.tolist()}, got {sorted(unknown)}")
        rng = np.random.default_rng(seed)
        index = np.searchsorted(self.classes_, labels)
        codes = np.stack(
            [rng.multivariate_normal(self.class_means_[i], self.class_covariances_[i]) for i in index]
        )
        return self.reconstruct(codes)

    def _flatten(self, images) -> np.ndarray:
        images = np.asarray(images, dtype=np.float64)
        if images.ndim < 2:
            raise ValueError(f"`images` must be a batch [n, ...], got shape {images.shape}")
        return images.reshape(len(images), -1)

    def _check_fitted(self) -> None:
        if self.mean_ is None:
            raise ValueError("the model is not fitted yet: call fit(images, labels) first")
