"""benchmarks/profile_step.py: each layer is timed on the inputs it really sees."""

import sys

import keras
import numpy as np
import pytest

from conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

if keras.backend.backend() != "tensorflow":
    pytest.skip("profile_step.py times TensorFlow graphs", allow_module_level=True)

import profile_step  # noqa: E402

from gan_keras import build_generator  # noqa: E402


@pytest.mark.parametrize("num_classes", [None, 10])
def test_layer_inputs_replay_the_model(num_classes):
    generator = build_generator(8, kind="dcgan", num_classes=num_classes, base_filters=4)
    noise = np.random.default_rng(0).normal(size=(3, 8)).astype("float32")
    inputs = noise if num_classes is None else [noise, np.array([1, 2, 3], dtype="int32")]
    received = profile_step.layer_inputs(generator, inputs)

    layers = [layer for layer in generator.layers if not isinstance(layer, keras.layers.InputLayer)]
    assert list(received) == [layer.name for layer in layers]
    for layer in layers:
        expected = [tuple(t.shape[1:]) for t in keras.tree.flatten(layer.input)]
        assert [tuple(t.shape[1:]) for t in received[layer.name]] == expected
    # The last layer, run on what it received, gives the model's output.
    last = layers[-1]
    np.testing.assert_allclose(last(received[last.name][0]), generator(inputs, training=True), atol=1e-5)

