import keras
import numpy as np
import pytest

from conftest import SHARED_MNIST
from gan_keras.data import load_images
from gan_keras.evaluation import (
    EvaluationCallback,
    Evaluator,
    evaluate_images,
    evaluator_card,
    real_reference,
)
from gan_keras.evaluation.metrics import (
    classifier_score,
    confident_fraction,
    frechet_distance,
    frechet_distance_from_moments,
    mode_coverage,
    precision_recall,
)
from gan_keras.evaluation.train_evaluator import split_bundled


@pytest.fixture(scope="module")
def evaluator():
    return Evaluator()


# ------------------------------------------------------------------ Fréchet distance
def test_frechet_distance_of_a_set_with_itself_is_zero():
    features = np.random.default_rng(0).normal(size=(500, 8))
    assert frechet_distance(features, features) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_matches_the_closed_form_for_known_gaussians():
    # Diagonal covariances commute, so (S_a S_b)^1/2 = diag(sqrt(a_i b_i)) and
    # d^2 = |mu_a - mu_b|^2 + sum_i (sqrt(a_i) - sqrt(b_i))^2.
    mean_a, mean_b = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, -1.0])
    var_a, var_b = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    expected = np.sum((mean_a - mean_b) ** 2) + np.sum((np.sqrt(var_a) - np.sqrt(var_b)) ** 2)
    got = frechet_distance_from_moments(mean_a, np.diag(var_a), mean_b, np.diag(var_b))
    assert got == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_of_samples_approaches_the_closed_form():
    rng = np.random.default_rng(1)
    a = rng.normal(0.0, 1.0, size=(20000, 2))
    b = rng.normal(3.0, 2.0, size=(20000, 2))
    # |mu|^2 = 2 * 9 = 18; covariance part 2 * (2 - 1)^2 = 2.
    assert frechet_distance(a, b) == pytest.approx(20.0, rel=0.03)


def test_frechet_distance_survives_singular_covariances():
    # 5 samples in 10 dimensions: both covariances are singular.
    rng = np.random.default_rng(2)
    distance = frechet_distance(rng.normal(size=(5, 10)), rng.normal(size=(5, 10)))
    assert np.isfinite(distance) and distance > 0


def test_frechet_distance_rejects_bad_features():
    with pytest.raises(ValueError, match="`features_a` must be a \\[n, d\\] array"):
        frechet_distance(np.zeros(5), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="NaN"):
        frechet_distance(np.full((3, 2), np.nan), np.zeros((3, 2)))


# ------------------------------------------------------------- class-space figures
def _one_hot(classes, num_classes=10, confidence=0.99):
    probabilities = np.full((len(classes), num_classes), (1 - confidence) / (num_classes - 1))
    probabilities[np.arange(len(classes)), classes] = confidence
    return probabilities


def test_classifier_score_ranges_from_one_to_the_number_of_classes():
    assert classifier_score(np.full((100, 10), 0.1)) == pytest.approx(1.0)
    even = classifier_score(_one_hot(np.arange(1000) % 10, confidence=1.0))
    assert even == pytest.approx(10.0, rel=1e-6)
    collapsed = classifier_score(_one_hot(np.zeros(1000, int), confidence=1.0))
    assert collapsed == pytest.approx(1.0, rel=1e-6)


def test_mode_coverage_flags_a_collapsed_generator():
    even = mode_coverage(_one_hot(np.arange(1000) % 10))
    assert even["classes_covered"] == 10 and even["kl_from_uniform"] == pytest.approx(0.0, abs=1e-9)
    collapsed = mode_coverage(_one_hot(np.full(1000, 7)))
    assert collapsed["classes_covered"] == 1
    assert collapsed["kl_from_uniform"] == pytest.approx(np.log(10))
    assert collapsed["histogram"][7] == 1.0


def test_confident_fraction_counts_sure_predictions():
    probabilities = np.vstack([_one_hot([1, 2, 3], confidence=0.95), np.full((1, 10), 0.1)])
    assert confident_fraction(probabilities) == 0.75
    with pytest.raises(ValueError, match="sum to 1"):
        confident_fraction(np.ones((2, 10)))


def test_precision_and_recall_separate_quality_from_variety():
    rng = np.random.default_rng(3)
    real = rng.normal(size=(600, 2))
    same = rng.normal(size=(600, 2))
    assert precision_recall(real, same)["precision"] > 0.9
    assert precision_recall(real, same)["recall"] > 0.9
    # All fakes at one realistic point: precise, but no variety.
    collapsed = np.zeros((600, 2)) + rng.normal(scale=0.01, size=(600, 2))
    result = precision_recall(real, collapsed)
    assert result["precision"] > 0.9 and result["recall"] < 0.1
    # Fakes far away: neither.
    far = precision_recall(real, same + 50.0)
    assert far["precision"] == 0.0 and far["recall"] == 0.0


# ----------------------------------------------------------------------- evaluator
def test_evaluator_loads_offline_and_reaches_its_recorded_accuracy(evaluator):
    card = evaluator_card()
    _, (held_images, held_labels) = split_bundled(card["seed"])
    accuracy = np.mean(evaluator.predict_classes(held_images) == held_labels)
    assert accuracy == pytest.approx(card["heldout_accuracy"], abs=1e-6)
    assert accuracy >= 0.97
    assert evaluator.model.count_params() < 500_000


@pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason="the shared MNIST test files are not beside the repo")
def test_evaluator_reaches_its_recorded_accuracy_on_the_mnist_test_split(evaluator):
    card = evaluator_card()
    images, labels = load_images("mnist", source="idx", data_dir=SHARED_MNIST, split="test")
    accuracy = np.mean(evaluator.predict_classes(images) == labels)
    assert accuracy == pytest.approx(card["mnist_test_accuracy"], abs=1e-4)
    assert accuracy >= 0.98


def test_real_data_beats_noise_on_every_figure(evaluator):
    noise = np.random.default_rng(4).uniform(-1, 1, size=(500, 28, 28, 1)).astype("float32")
    result = evaluate_images(noise, seed=0, evaluator=evaluator)
    real, fake = result["real_floor"], result["samples"]
    assert real["fid"] < fake["fid"] / 10
    assert real["classifier_score"] > fake["classifier_score"]
    assert real["classes_covered"] == 10 and real["classes_covered"] > fake["classes_covered"]
    assert real["kl_from_uniform"] < fake["kl_from_uniform"]
    assert real["recall"] > fake["recall"] and fake["recall"] == 0.0
    assert real["confident_fraction"] > fake["confident_fraction"]
    # k-NN precision alone is fooled here: all noise images land on one point
    # of feature space inside an outlying real digit's ball (a known weakness
    # of the metric, Kynkäänniemi et al. 2019), so it is read with recall.
    assert fake["precision"] * fake["recall"] < real["precision"] * real["recall"]


def test_a_generator_that_always_draws_one_digit_is_flagged(evaluator):
    images, labels = load_images("mnist", source="bundled")
    sevens = images[labels == 7][:400]
    figures = evaluate_images(sevens, seed=0, evaluator=evaluator)["samples"]
    assert figures["classes_covered"] == 1
    assert figures["kl_from_uniform"] > 2.0
    assert figures["recall"] < 0.3  # realistic sevens, but a sliver of the data's variety


def test_real_reference_sets_are_disjoint():
    reference, floor = real_reference(100, seed=0)
    flat_reference = {image.tobytes() for image in reference}
    assert not any(image.tobytes() in flat_reference for image in floor)
    with pytest.raises(ValueError, match="at most 2500"):
        real_reference(3000)


def test_evaluator_rejects_wrong_images(evaluator):
    with pytest.raises(ValueError, match="28x28 grayscale"):
        evaluator.features_and_probabilities(np.zeros((2, 32, 32, 3)))
    with pytest.raises(ValueError, match="scaled to \\[-1, 1\\]"):
        evaluator.features_and_probabilities(np.full((2, 28, 28, 1), 255.0))


def test_evaluation_callback_records_figures_only_for_evaluated_epochs(mnist_sample, evaluator):
    from gan_keras import GAN, build_discriminator, build_generator, make_dataset
    from gan_keras.evaluation import evaluate_generator

    keras.utils.set_random_seed(0)
    gan = GAN(build_generator(8, kind="mlp", hidden_units=(16,)), build_discriminator(kind="mlp", hidden_units=(16,)))
    gan.compile()
    callback = EvaluationCallback(every=2, n=50)
    history = gan.fit(make_dataset(mnist_sample[0][:64], batch_size=32), epochs=4, verbose=0, callbacks=[callback])
    assert callback.evaluated_epochs == [1, 2, 4]
    assert len(history.history["d_loss"]) == 4
    # One entry per evaluation, each labelled with its epoch: no copied values.
    assert history.history["eval_epoch"] == [1, 2, 4]
    for key in ("eval_fid", "eval_classes_covered", "eval_confident_fraction"):
        assert len(history.history[key]) == 3
    assert all(value > 10 for value in history.history["eval_fid"])  # an untrained MLP is far from real digits
    # The last entry is the evaluation of the final generator (epoch 4).
    final = evaluate_generator(gan.generator, n=50, seed=0, cheap=True, evaluator=evaluator)["samples"]
    assert history.history["eval_fid"][-1] == pytest.approx(final["fid"], rel=1e-5)
    assert history.history["eval_classes_covered"][-1] == final["classes_covered"]
