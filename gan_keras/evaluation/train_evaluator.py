"""Train the shipped evaluator and record its accuracy.

    python -m gan_keras.evaluation.train_evaluator [--mnist-test-dir ../shared/data/mnist]

It trains on 4,500 of the bundled digits (450 per class) and holds out the
other 500 (50 per class). It writes ``gan_keras/models/mnist_evaluator.keras``
and a card ``mnist_evaluator.json`` with the held-out accuracy and, when the
official MNIST test split is at hand (IDX files), the accuracy on its 10,000
digits. Random shifts and small rotations during training make it robust to
the slightly off-centre digits a generator draws.

Outlier exposure (Hendrycks et al., 2019): a classifier trained on digits
alone calls pure noise a digit with near certainty, which would make noise
look "confident". So the training set also holds synthetic non-digits
(pixel noise, smooth blobs, speckle) whose target is the uniform
distribution over the ten classes.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

from gan_keras.data import load_images  # noqa: E402
from gan_keras.evaluation.evaluator import build_evaluator  # noqa: E402

PACKAGE_MODELS = Path(__file__).resolve().parents[1] / "models"
HOLDOUT_PER_CLASS = 50


def split_bundled(seed: int = 0):
    """The bundled sample split into (train, held-out) with 50 held-out digits per class."""
    images, labels = load_images("mnist", source="bundled")
    rng = np.random.default_rng(seed)
    holdout = np.concatenate(
        [rng.permutation(np.flatnonzero(labels == digit))[:HOLDOUT_PER_CLASS] for digit in range(10)]
    )
    mask = np.zeros(len(labels), bool)
    mask[holdout] = True
    return (images[~mask], labels[~mask]), (images[mask], labels[mask])


def synthetic_outliers(count: int, seed: int = 0) -> np.ndarray:
    """Non-digit images in [-1, 1]: a third pixel noise, a third smooth blobs, a third speckle."""
    rng = np.random.default_rng(seed)
    third = count // 3
    pixel_noise = rng.uniform(-1, 1, size=(third, 28, 28, 1))
    coarse = rng.uniform(-1, 1, size=(third, 7, 7, 1))
    blobs = np.repeat(np.repeat(coarse, 4, axis=1), 4, axis=2)  # 7x7 noise blown up to 28x28
    speckle = np.where(rng.uniform(size=(count - 2 * third, 28, 28, 1)) < 0.15, 1.0, -1.0)
    return np.concatenate([pixel_noise, blobs, speckle]).astype(np.float32)


def train_evaluator(epochs: int = 30, seed: int = 0, outliers: int = 1500) -> tuple[keras.Model, dict]:
    """Train the evaluator on the bundled sample (plus outliers); returns (model, card)."""
    keras.utils.set_random_seed(seed)
    (digit_images, digit_labels), (held_images, held_labels) = split_bundled(seed)
    outlier_images = synthetic_outliers(outliers, seed)
    train_images = np.concatenate([digit_images, outlier_images])
    targets = np.concatenate(
        [keras.utils.to_categorical(digit_labels, 10), np.full((outliers, 10), 0.1, np.float32)]
    )
    classifier = build_evaluator()
    augment = keras.Sequential(
        [layers.RandomTranslation(0.1, 0.1, fill_value=-1.0, seed=seed), layers.RandomRotation(0.04, fill_value=-1.0, seed=seed)]
    )
    trainer = keras.Sequential([keras.Input((28, 28, 1)), augment, classifier])
    trainer.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True),
    )
    trainer.fit(
        train_images, targets, epochs=epochs, batch_size=64, verbose=2, shuffle=True,
        callbacks=[keras.callbacks.ReduceLROnPlateau("loss", factor=0.5, patience=3)],
    )
    classifier.compile(metrics=["accuracy"], loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    card = {
        "architecture": "conv32-pool-conv64-pool-dropout-dense128(features)-dense10",
        "trained_on": f"{len(digit_labels)} bundled MNIST digits (gan_keras/data_files/mnist_5k.npz)",
        "outlier_images": outliers,
        "heldout_images": int(len(held_labels)),
        "heldout_accuracy": float(classifier.evaluate(held_images, held_labels, verbose=0)[1]),
        "epochs": epochs,
        "seed": seed,
        "keras": keras.__version__,
    }
    return classifier, card


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mnist-test-dir", type=Path, default=None, help="folder of the MNIST t10k IDX files")
    parser.add_argument("--out-dir", type=Path, default=PACKAGE_MODELS)
    args = parser.parse_args()
    classifier, card = train_evaluator(args.epochs, args.seed)
    if args.mnist_test_dir is not None:
        test_images, test_labels = load_images("mnist", source="idx", data_dir=args.mnist_test_dir, split="test")
        card["mnist_test_images"] = int(len(test_labels))
        card["mnist_test_accuracy"] = float(classifier.evaluate(test_images, test_labels, verbose=0)[1])
    args.out_dir.mkdir(parents=True, exist_ok=True)
    classifier.save(args.out_dir / "mnist_evaluator.keras")
    (args.out_dir / "mnist_evaluator.json").write_text(json.dumps(card, indent=2) + "\n")
    print(json.dumps(card, indent=2))


if __name__ == "__main__":
    main()
