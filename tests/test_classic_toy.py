import numpy as np
import pytest

from gan_keras.teaching.classic import PCAGaussianModel
from gan_keras.data import load_images
from gan_keras.teaching.toy import count_modes, ring_centres, ring_of_gaussians


@pytest.fixture(scope="module")
def digits():
    images, labels = load_images("mnist", source="bundled")
    return images, labels


def test_generative_classifier_classifies_held_out_digits(digits):
    images, labels = digits
    model = PCAGaussianModel(components=30).fit(images[::2], labels[::2])
    accuracy = np.mean(model.predict(images[1::2]) == labels[1::2])
    assert accuracy > 0.85  # chance is 0.1


def test_bayes_rule_gives_a_distribution(digits):
    images, labels = digits
    model = PCAGaussianModel(components=10).fit(images, labels)
    probabilities = model.predict_proba(images[:20])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-9)
    joint = model.log_likelihood(images[:1]) + model.log_priors_
    expected = np.exp(joint - joint.max()) / np.exp(joint - joint.max()).sum()
    np.testing.assert_allclose(probabilities[:1], expected, rtol=1e-9)


def test_samples_are_recognised_as_the_class_they_were_drawn_from(digits):
    images, labels = digits
    model = PCAGaussianModel(components=20).fit(images, labels)
    requested = np.repeat(np.arange(10), 20)
    samples = model.sample(requested, seed=0)
    assert samples.shape == (200, 28, 28, 1) and samples.min() >= -1 and samples.max() <= 1
    assert np.mean(model.predict(samples) == requested) > 0.9
    with pytest.raises(ValueError, match="`labels` must be among"):
        model.sample([11])


def test_unfitted_and_bad_arguments_are_clear_errors(digits):
    with pytest.raises(ValueError, match="not fitted"):
        PCAGaussianModel().predict(digits[0][:2])
    with pytest.raises(ValueError, match="`components`"):
        PCAGaussianModel(components=50).fit(digits[0][:10], digits[1][:10])


def test_ring_of_gaussians_and_mode_counting():
    centres = ring_centres(8, radius=2.0)
    np.testing.assert_allclose(np.linalg.norm(centres, axis=1), 2.0, rtol=1e-6)
    data = ring_of_gaussians(4000, std=0.05, seed=0)
    full = count_modes(data, centres)
    assert full["modes_covered"] == 8 and full["high_quality_share"] > 0.99
    collapsed = np.repeat(centres[:2], 500, axis=0)
    assert count_modes(collapsed, centres)["modes_covered"] == 2
    off_ring = np.zeros((100, 2))  # all at the centre: hits no mode
    assert count_modes(off_ring, centres)["modes_covered"] == 0
