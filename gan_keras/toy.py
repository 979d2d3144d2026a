"""Toy distributions for seeing GANs learn (and fail) in two dimensions.

Taught in `notebooks/02_gan_from_scratch.ipynb` and
`notebooks/05_stabilizing_training.ipynb`: the ring of eight Gaussians is the
classic picture of mode collapse (Metz et al., 2017).
"""

from __future__ import annotations

import numpy as np

from gan_keras._validation import check_non_negative_float, check_positive_int


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
