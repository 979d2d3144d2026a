"""Sample-quality metrics computed in the evaluator's feature and class space.

Taught in `notebooks/07_evaluating_generative_models.ipynb`.

All functions take NumPy arrays (features ``[n, d]`` or class probabilities
``[n, classes]``) and return plain Python floats/dicts, so they can be used
with any feature extractor.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg

from gan_keras._validation import check_positive_int


def frechet_distance_from_moments(mean_a, covariance_a, mean_b, covariance_b, eps: float = 1e-6) -> float:
    """Fréchet (2-Wasserstein) distance between two Gaussians.

    ``d^2 = |mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^{1/2})`` (Dowson & Landau, 1982;
    the "FID" of Heusel et al., 2017, when the moments are Inception features).

    ``scipy.linalg.sqrtm`` of a product of near-singular covariances can come
    back with non-finite entries or imaginary parts from round-off: we then
    add ``eps`` to both diagonals and keep the real part of the root's trace
    (an imaginary part larger than round-off is an error, not silently dropped).
    """
    mean_a, mean_b = np.atleast_1d(mean_a).astype(np.float64), np.atleast_1d(mean_b).astype(np.float64)
    covariance_a = np.atleast_2d(covariance_a).astype(np.float64)
    covariance_b = np.atleast_2d(covariance_b).astype(np.float64)
    if mean_a.shape != mean_b.shape or covariance_a.shape != covariance_b.shape:
        raise ValueError(
            f"moments must have matching shapes, got means {mean_a.shape} vs {mean_b.shape} and "
            f"covariances {covariance_a.shape} vs {covariance_b.shape}"
        )
    product_root = _sqrtm(covariance_a @ covariance_b)
    if not np.isfinite(product_root).all():
        offset = np.eye(len(covariance_a)) * eps
        product_root = _sqrtm((covariance_a + offset) @ (covariance_b + offset))
    # Only the root's trace is used, so the imaginary part is judged there: the
    # eigenvalues of S_a S_b are real and >= 0, so the trace of its root is real
    # up to round-off. (The entries may not be: for a singular product, older
    # SciPy, e.g. 1.11, returns roots whose entries have imaginary parts of
    # order 10 that cancel in the trace to order 1e-6.)
    root_trace = np.trace(product_root)
    if np.iscomplexobj(root_trace):
        if abs(root_trace.imag) > 1e-3 * max(1.0, abs(root_trace.real)):
            raise ValueError(f"matrix square root has a large imaginary part ({abs(root_trace.imag):.3g})")
        root_trace = root_trace.real
    difference = mean_a - mean_b
    distance = difference @ difference + np.trace(covariance_a) + np.trace(covariance_b) - 2 * root_trace
    return float(max(distance, 0.0))  # round-off can push a zero distance a hair below 0


def _sqrtm(matrix: np.ndarray) -> np.ndarray:
    # A singular product is handled by the caller (eps offset), so SciPy's warning is noise here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        result = linalg.sqrtm(matrix)
    # Older SciPy returned (root, error) with disp=False; the default returns the root.
    return result[0] if isinstance(result, tuple) else result


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets ``[n, d]``."""
    features_a, features_b = _check_features(features_a, "features_a"), _check_features(features_b, "features_b")
    return frechet_distance_from_moments(
        features_a.mean(axis=0), np.cov(features_a, rowvar=False),
        features_b.mean(axis=0), np.cov(features_b, rowvar=False),
    )


def classifier_score(probabilities: np.ndarray, eps: float = 1e-12) -> float:
    """The Inception Score (Salimans et al., 2016) computed with our evaluator.

    ``exp(E_x KL(p(y|x) || p(y)))``: high when each sample is confidently one
    class (sharp ``p(y|x)``) *and* the classes are evenly used (flat ``p(y)``).
    It ranges from 1 to the number of classes.
    """
    probabilities = _check_probabilities(probabilities)
    marginal = probabilities.mean(axis=0, keepdims=True)
    kl = np.sum(probabilities * (np.log(probabilities + eps) - np.log(marginal + eps)), axis=1)
    return float(np.exp(kl.mean()))


def mode_coverage(probabilities: np.ndarray, threshold: float = 0.05) -> dict:
    """How evenly the samples spread over the classes: the mode-collapse detector.

    Args:
        probabilities: class probabilities ``[n, classes]``.
        threshold: a class is "covered" when at least this share of samples falls in it.

    Returns:
        ``{"histogram": share per class, "kl_from_uniform": KL(histogram || uniform)
        in nats (0 = perfectly even, log(classes) = one class only),
        "classes_covered": count}``.
    """
    probabilities = _check_probabilities(probabilities)
    classes = probabilities.shape[1]
    histogram = np.bincount(probabilities.argmax(axis=1), minlength=classes) / len(probabilities)
    nonzero = histogram > 0
    kl = float(np.sum(histogram[nonzero] * np.log(histogram[nonzero] * classes)))
    return {
        "histogram": [float(share) for share in histogram],
        "kl_from_uniform": kl,
        "classes_covered": int(np.sum(histogram >= threshold)),
    }


def confident_fraction(probabilities: np.ndarray, threshold: float = 0.9) -> float:
    """Share of samples the evaluator assigns to one class with probability >= `threshold`."""
    probabilities = _check_probabilities(probabilities)
    return float(np.mean(probabilities.max(axis=1) >= threshold))


def precision_recall(real_features: np.ndarray, fake_features: np.ndarray, k: int = 3, chunk: int = 1024) -> dict:
    """Improved precision and recall (Kynkäänniemi et al., 2019).

    Each set's manifold is the union of balls around its points whose radius
    is the distance to the point's k-th nearest neighbour in the same set.
    *Precision* is the share of fake samples inside the real manifold (are the
    samples realistic?); *recall* is the share of real samples inside the fake
    manifold (is the variety of the data covered?).

    Read the two together: a set of samples that all collapse onto one point
    lying inside some real sample's ball (e.g. an outlying real digit with a
    large radius) gets precision 1 with recall 0.

    Returns:
        ``{"precision": float, "recall": float}``.
    """
    real = _check_features(real_features, "real_features")
    fake = _check_features(fake_features, "fake_features")
    k = check_positive_int("k", k)
    if min(len(real), len(fake)) <= k:
        raise ValueError(f"`k` ({k}) must be smaller than the number of real and fake samples")
    real_radii = _kth_neighbour_distance(real, k, chunk)
    fake_radii = _kth_neighbour_distance(fake, k, chunk)
    return {
        "precision": float(np.mean(_inside_any_ball(fake, real, real_radii, chunk))),
        "recall": float(np.mean(_inside_any_ball(real, fake, fake_radii, chunk))),
    }


def _pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    squared = np.sum(a**2, axis=1)[:, None] - 2 * a @ b.T + np.sum(b**2, axis=1)[None, :]
    return np.sqrt(np.maximum(squared, 0.0))


def _kth_neighbour_distance(points: np.ndarray, k: int, chunk: int) -> np.ndarray:
    radii = np.empty(len(points))
    for start in range(0, len(points), chunk):
        distances = _pairwise_distances(points[start : start + chunk], points)
        # Index k (not k-1): the nearest "neighbour" at distance 0 is the point itself.
        radii[start : start + chunk] = np.partition(distances, k, axis=1)[:, k]
    return radii


def _inside_any_ball(queries: np.ndarray, centres: np.ndarray, radii: np.ndarray, chunk: int) -> np.ndarray:
    inside = np.zeros(len(queries), bool)
    for start in range(0, len(queries), chunk):
        distances = _pairwise_distances(queries[start : start + chunk], centres)
        inside[start : start + chunk] = np.any(distances <= radii[None, :], axis=1)
    return inside


def _check_features(features, name: str) -> np.ndarray:
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"`{name}` must be a [n, d] array with n >= 2, got shape {features.shape}")
    if not np.isfinite(features).all():
        raise ValueError(f"`{name}` contains NaN or infinite values")
    return features


def _check_probabilities(probabilities) -> np.ndarray:
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.ndim != 2 or len(probabilities) == 0:
        raise ValueError(f"`probabilities` must be a non-empty [n, classes] array, got shape {probabilities.shape}")
    if probabilities.min() < -1e-6 or not np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError("`probabilities` rows must be non-negative and sum to 1 (apply softmax to logits)")
    return probabilities
