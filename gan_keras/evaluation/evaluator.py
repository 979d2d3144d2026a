"""The evaluator: a small digit classifier shipped with the package.

Taught in `notebooks/07_evaluating_generative_models.ipynb`.

Sample-quality metrics need a network that "understands" digits. Public
tutorials download an Inception network or a TF-Hub classifier, which fails
offline; gan_keras ships its own: a two-convolution CNN trained on the
bundled MNIST sample by `gan_keras.evaluation.train_evaluator`. Its
penultimate layer (128 ReLU units, named ``"features"``) is the feature space
of the Fréchet distance and of precision/recall; its softmax output drives
the classifier score, mode coverage and the confident fraction.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path

import keras
import numpy as np
from keras import layers

from gan_keras.gan import call_in_batches

EVALUATOR_FILE = "models/mnist_evaluator.keras"
EVALUATOR_CARD = "models/mnist_evaluator.json"
FEATURES_LAYER = "features"


def build_evaluator(num_classes: int = 10, image_shape=(28, 28, 1)) -> keras.Model:
    """The evaluator's architecture (untrained): conv-pool x2, 128 features, logits."""
    inputs = keras.Input(image_shape, name="images")
    x = layers.Conv2D(32, 3, activation="relu")(inputs)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(64, 3, activation="relu")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.4)(x)
    features = layers.Dense(128, activation="relu", name=FEATURES_LAYER)(x)
    logits = layers.Dense(num_classes, name="logits")(features)
    return keras.Model(inputs, logits, name="mnist_evaluator")


class Evaluator:
    """The shipped classifier, with the two views the metrics need.

    Args:
        model: a classifier with a ``"features"`` layer; default the shipped one.
        batch_size: images per forward pass.
    """

    def __init__(self, model: keras.Model | None = None, batch_size: int = 500):
        self.model = model if model is not None else _load_shipped_model()
        self.batch_size = batch_size
        self._both = _two_views(self.model)

    def features_and_probabilities(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return (features [n, 128], class probabilities [n, 10]) for images in [-1, 1]."""
        images = _check_digit_images(images)
        features, logits = call_in_batches(self._both, images, self.batch_size)
        probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(logits, axis=-1))
        return features.astype(np.float64), probabilities.astype(np.float64)

    def predict_classes(self, images: np.ndarray) -> np.ndarray:
        """The most likely digit for each image."""
        return self.features_and_probabilities(images)[1].argmax(axis=1)


def evaluator_card() -> dict:
    """What `train_evaluator` recorded about the shipped weights (accuracies, data, seed)."""
    text = resources.files("gan_keras").joinpath(EVALUATOR_CARD).read_text()
    return json.loads(text)


@lru_cache(maxsize=8)
def _two_views(model: keras.Model) -> keras.Model:
    # One (features, logits) model per classifier, reused by every Evaluator:
    # a new model each time would make Keras trace a new predict function
    # for every evaluation (and warn about "excessive retracing").
    return keras.Model(model.inputs[0], [model.get_layer(FEATURES_LAYER).output, model.outputs[0]])


@lru_cache(maxsize=1)
def _load_shipped_model() -> keras.Model:
    path = resources.files("gan_keras").joinpath(EVALUATOR_FILE)
    with resources.as_file(path) as local_path:
        if not Path(local_path).is_file():
            raise FileNotFoundError(
                f"the evaluator weights {EVALUATOR_FILE} are missing from the package; "
                "rebuild them with `python -m gan_keras.evaluation.train_evaluator`"
            )
        # The weights, not the saved architecture: a `.keras` file's config is
        # written in the format of the Keras that saved it, and older Keras
        # refuses newer arguments (Keras 3.3 cannot deserialize a 3.15 file:
        # "GlorotUniform.__init__() got an unexpected keyword argument
        # 'input_axes'"), while the weights are stored by layer type and
        # order, which `build_evaluator` reproduces on every supported Keras.
        model = build_evaluator()
        model.load_weights(local_path)
        return model


def _check_digit_images(images) -> np.ndarray:
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 3:
        images = images[..., np.newaxis]
    if images.ndim != 4 or images.shape[1:] != (28, 28, 1):
        raise ValueError(f"`images` must be 28x28 grayscale digits [n, 28, 28, 1] in [-1, 1], got shape {images.shape}")
    if images.min() < -1.0 - 1e-3 or images.max() > 1.0 + 1e-3:
        raise ValueError(
            f"`images` must be scaled to [-1, 1], got values in [{images.min():.3g}, {images.max():.3g}]"
        )
    return images
