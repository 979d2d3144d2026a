"""Walking through latent space: linear and spherical interpolation.

Taught in `notebooks/04_conditional_gan.ipynb` and `notebooks/06_vae_vs_gan.ipynb`.

Works with anything that maps codes to images: a GAN generator (a Keras
model), `VAE.decode`, or any function ``codes -> images``.
"""

from __future__ import annotations

from typing import Callable

import keras
import numpy as np

from gan_keras._validation import check_choice, check_positive_int
from gan_keras.gan import is_conditional

METHODS = ("linear", "slerp")


def interpolate(start: np.ndarray, end: np.ndarray, steps: int = 8, method: str = "slerp") -> np.ndarray:
    """Points from `start` to `end` (both included).

    Args:
        start, end: latent vectors of the same shape ``[d]``.
        steps: number of points, at least 2.
        method: ``"linear"``, or ``"slerp"`` (spherical, White 2016): a
            Gaussian code lives near a sphere of radius sqrt(d), and the
            straight line between two codes cuts through the low-probability
            centre, where samples look washed out; slerp follows the sphere.

    Returns:
        ``[steps, d]`` float32 array.
    """
    check_choice("method", method, METHODS)
    steps = check_positive_int("steps", steps, minimum=2)
    start, end = np.asarray(start, np.float64).ravel(), np.asarray(end, np.float64).ravel()
    if start.shape != end.shape:
        raise ValueError(f"`start` and `end` must have the same shape, got {start.shape} and {end.shape}")
    fractions = np.linspace(0.0, 1.0, steps)[:, None]
    if method == "linear":
        return ((1 - fractions) * start + fractions * end).astype(np.float32)
    cosine = np.dot(start, end) / (np.linalg.norm(start) * np.linalg.norm(end) + 1e-12)
    angle = np.arccos(np.clip(cosine, -1.0, 1.0))
    if angle < 1e-6:  # (anti)parallel within round-off: slerp degenerates to a line
        return ((1 - fractions) * start + fractions * end).astype(np.float32)
    weights_start = np.sin((1 - fractions) * angle) / np.sin(angle)
    weights_end = np.sin(fractions * angle) / np.sin(angle)
    return (weights_start * start + weights_end * end).astype(np.float32)


def interpolation_strip(
    decode: Callable | keras.Model,
    start: np.ndarray,
    end: np.ndarray,
    steps: int = 8,
    method: str = "slerp",
    labels=None,
) -> np.ndarray:
    """Decode an interpolation into a strip of images.

    Args:
        decode: a generator model, a VAE's `decode`, or any ``codes -> images``.
        start, end, steps, method: see `interpolate`.
        labels: for a conditional generator: one label for all points, or one per point
            (so a strip can also morph one digit into another).

    Returns:
        ``[steps, height, width, channels]`` images.
    """
    codes = interpolate(start, end, steps, method)
    if isinstance(decode, keras.Model) and is_conditional(decode):
        labels = np.broadcast_to(np.asarray(0 if labels is None else labels, np.int32), (steps,))
        return np.asarray(decode.predict([codes, labels], verbose=0))
    if isinstance(decode, keras.Model):
        return np.asarray(decode.predict(codes, verbose=0))
    return np.asarray(decode(codes))
