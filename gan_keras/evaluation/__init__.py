"""Measuring what a generator makes, offline, with the shipped evaluator.

Taught in `notebooks/07_evaluating_generative_models.ipynb`.

- `evaluate_generator`: every figure for a generator, each beside its
  real-vs-real floor (what "perfect" looks like at the same sample size);
- `evaluate_images`: the same for any array of images;
- `EvaluationCallback`: the cheap figures every K epochs, into the history;
- the metrics themselves in `gan_keras.evaluation.metrics`.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from gan_keras._validation import check_positive_int  # noqa: E402
from gan_keras.evaluation.evaluator import Evaluator, build_evaluator, evaluator_card  # noqa: E402
from gan_keras.evaluation.metrics import (  # noqa: E402
    classifier_score,
    confident_fraction,
    frechet_distance,
    mode_coverage,
    precision_recall,
)

__all__ = [
    "EvaluationCallback",
    "Evaluator",
    "build_evaluator",
    "classifier_score",
    "conditional_accuracy",
    "confident_fraction",
    "evaluate_generator",
    "evaluate_images",
    "evaluator_card",
    "frechet_distance",
    "mode_coverage",
    "precision_recall",
    "real_reference",
]

# The figures, in table order, and whether lower is better.
FIGURES = {
    "fid": True,
    "classifier_score": False,
    "classes_covered": False,
    "kl_from_uniform": True,
    "precision": False,
    "recall": False,
    "confident_fraction": False,
}


def real_reference(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint random sets of `n` real bundled digits: the reference and the floor.

    The bundled sample has 5,000 digits, so `n` can be at most 2,500.
    """
    from gan_keras.data import load_images

    n = check_positive_int("n", n, minimum=10)
    images, _ = load_images("mnist", source="bundled")
    if 2 * n > len(images):
        raise ValueError(f"`n` must be at most {len(images) // 2} (two disjoint halves of the bundled sample), got {n}")
    order = np.random.default_rng(seed).permutation(len(images))
    return images[order[:n]], images[order[n : 2 * n]]


def _figures(evaluator: Evaluator, real_features, images, cheap: bool) -> dict:
    features, probabilities = evaluator.features_and_probabilities(images)
    coverage = mode_coverage(probabilities)
    figures = {
        "fid": frechet_distance(real_features, features),
        "classes_covered": coverage["classes_covered"],
        "kl_from_uniform": coverage["kl_from_uniform"],
        "confident_fraction": confident_fraction(probabilities),
    }
    if not cheap:
        figures["classifier_score"] = classifier_score(probabilities)
        figures.update(precision_recall(real_features, features, k=3))
        figures["histogram"] = coverage["histogram"]
    return figures


def evaluate_images(images: np.ndarray, n: int | None = None, seed: int = 0, cheap: bool = False,
                    evaluator: Evaluator | None = None) -> dict:
    """Score images (28x28x1 in [-1, 1]) against real bundled digits.

    Args:
        images: the samples to judge.
        n: how many to use (default all, at most 2,500).
        seed: picks the real reference and floor sets.
        cheap: only the Fréchet distance, coverage and confident fraction.
        evaluator: default the shipped one.

    Returns:
        ``{"samples": {...figures}, "real_floor": {...same figures for real data}, "n": n}``.
    """
    images = np.asarray(images, dtype=np.float32)
    n = len(images) if n is None else min(check_positive_int("n", n), len(images))
    evaluator = evaluator or Evaluator()
    reference, floor = real_reference(n, seed)
    real_features, _ = evaluator.features_and_probabilities(reference)
    return {
        "n": n,
        "samples": _figures(evaluator, real_features, images[:n], cheap),
        "real_floor": _figures(evaluator, real_features, floor, cheap),
    }


def evaluate_generator(generator: keras.Model, n: int = 2000, labels=None, seed: int = 0,
                       cheap: bool = False, evaluator: Evaluator | None = None) -> dict:
    """Generate `n` digits and score them (see `evaluate_images`).

    Args:
        generator: a 28x28x1 generator (conditional ones get `labels`, default
            an even spread over the classes).
        n: number of samples (at most 2,500: the floor needs two disjoint real sets).
        labels: classes for a conditional generator.
        seed: fixes the noise and the real reference sets.
        cheap: skip the classifier score and precision/recall.
        evaluator: default the shipped one.

    Returns:
        The figures for the samples and for real data, as a dict.
    """
    from gan_keras.gan import generate_images

    images = generate_images(generator, n, labels=labels, seed=seed)
    return evaluate_images(images, seed=seed, cheap=cheap, evaluator=evaluator)


def conditional_accuracy(generator: keras.Model, per_class: int = 100, seed: int = 0,
                         evaluator: Evaluator | None = None) -> float:
    """Share of a conditional generator's digits that the evaluator reads as
    the class that was asked for (chance is 0.1).

    Args:
        generator: a generator built with ``num_classes=10``.
        per_class: samples per class.
        seed: fixes the noise.
        evaluator: default the shipped one.
    """
    from gan_keras.gan import generate_images

    from gan_keras.gan import is_conditional

    if not is_conditional(generator):
        raise ValueError("`generator` must be conditional (built with num_classes) to score requested classes")
    per_class = check_positive_int("per_class", per_class)
    requested = np.repeat(np.arange(10), per_class)
    images = generate_images(generator, len(requested), labels=requested, seed=seed)
    return float(np.mean((evaluator or Evaluator()).predict_classes(images) == requested))


class EvaluationCallback(keras.callbacks.Callback):
    """Record the cheap figures every `every` epochs in the training history.

    On an evaluated epoch it adds ``eval_epoch`` (that epoch's number),
    ``eval_fid``, ``eval_classes_covered`` and ``eval_confident_fraction`` to
    the epoch's logs, and so to Keras' progress line, `History` and the CLI's
    ``history.json``. Other epochs carry no ``eval_*`` key: those lists hold
    one entry per *evaluation*, and ``eval_epoch`` says which epoch each
    belongs to (`gan_keras.plotting.plot_history` draws them as points there).
    An epoch whose loss diverged is not evaluated.

    Args:
        every: evaluate every this many epochs (and after the first epoch of
            every `fit`, so a run always has an early figure).
        n: samples per evaluation.
        seed: fixes the noise, so successive values are comparable.

    Attributes:
        evaluated_epochs: the epochs evaluated, counted from 1.
    """

    KEYS = ("fid", "classes_covered", "confident_fraction")

    def __init__(self, every: int = 5, n: int = 500, seed: int = 0):
        super().__init__()
        self.every = check_positive_int("every", every)
        self.n = check_positive_int("n", n, minimum=10)
        self.seed = seed
        self.evaluated_epochs: list[int] = []
        self._evaluator: Evaluator | None = None
        self._real_features = None
        self._first_epoch_of_fit = True

    def on_train_begin(self, logs=None):
        self._evaluator = Evaluator()
        reference, _ = real_reference(self.n, self.seed)
        self._real_features, _ = self._evaluator.features_and_probabilities(reference)
        self._first_epoch_of_fit = True

    def on_epoch_end(self, epoch, logs=None):
        from gan_keras.callbacks import non_finite_losses

        if logs is None or non_finite_losses(logs):
            return
        if not self._first_epoch_of_fit and (epoch + 1) % self.every != 0:
            return
        from gan_keras.averaging import sampling_generator
        from gan_keras.gan import generate_images

        self._first_epoch_of_fit = False
        images = generate_images(sampling_generator(self.model), self.n, seed=self.seed)
        figures = _figures(self._evaluator, self._real_features, images, cheap=True)
        logs["eval_epoch"] = epoch + 1
        for key in self.KEYS:
            logs[f"eval_{key}"] = float(figures[key])
        self.evaluated_epochs.append(epoch + 1)
