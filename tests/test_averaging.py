"""The generator's moving average (`gan_keras.averaging`) and the learning-rate
annealing callback: each compared with its closed form."""

import json

import keras
import numpy as np
import pytest

from gan_keras import build_discriminator, build_generator
from gan_keras.averaging import WeightAverage, average_decay, sampling_generator
from gan_keras.callbacks import LearningRateAnnealing, annealing_factor
from gan_keras.data import load_images
from gan_keras.gan import GAN
from gan_keras.training import TrainConfig, train


def tiny_model():
    inputs = keras.Input((3,))
    return keras.Model(inputs, keras.layers.Dense(2)(inputs))


@pytest.mark.parametrize("warmup", [False, True])
def test_average_equals_its_closed_form_after_k_updates(warmup):
    model = tiny_model()
    decay, steps = 0.9, 6
    rng = np.random.default_rng(0)
    history = [[w.copy() for w in model.get_weights()]]
    average = WeightAverage(model, decay=decay, warmup=warmup)
    for _ in range(steps):
        model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.get_weights()])
        history.append(model.get_weights())
        average.update(model)
    decays = [min(decay, (1 + t) / (10 + t)) if warmup else decay for t in range(1, steps + 1)]
    for index in range(len(history[0])):
        # average_k = prod(d_1..d_k) w_0 + sum_t (1 - d_t) prod(d_{t+1}..d_k) w_t
        expected = np.prod(decays) * history[0][index]
        for t in range(1, steps + 1):
            expected = expected + (1 - decays[t - 1]) * np.prod(decays[t:]) * history[t][index]
        np.testing.assert_allclose(keras.ops.convert_to_numpy(average.averages[index]), expected, rtol=1e-5, atol=1e-6)
    if not warmup:
        # Without a warm-up, 0.9^6 = 53% of the average is still the initial weights.
        assert np.prod(decays) == pytest.approx(0.9**6)
    assert float(keras.ops.convert_to_numpy(average_decay(0.999, 1))) == pytest.approx(2 / 11)


def test_average_refuses_a_decay_outside_zero_one():
    with pytest.raises(ValueError, match="decay"):
        WeightAverage(tiny_model(), decay=1.0)
    with pytest.raises(ValueError, match="ema"):
        GAN(build_generator(8, base_filters=4), build_discriminator(base_filters=4)).compile(ema=1.5)
    with pytest.raises(ValueError, match="ema"):
        TrainConfig(ema=-0.1).validate()
    with pytest.raises(ValueError, match="anneal"):
        TrainConfig(anneal=2.0).validate()


@pytest.mark.parametrize("run_eagerly", [True, False])
def test_gan_updates_the_average_once_per_generator_step(run_eagerly):
    images, _ = load_images("mnist", source="bundled", max_images=32)
    keras.utils.set_random_seed(1)
    gan = GAN(build_generator(8, base_filters=4), build_discriminator(base_filters=4), seed=1)
    gan.compile(ema=0.99, run_eagerly=run_eagerly)
    initial = gan.generator.get_weights()
    gan.fit(images, batch_size=32, epochs=1, verbose=0)  # one step
    trained = gan.generator.get_weights()
    first = 2 / 11  # the warm-up decay of the first update
    averaged = sampling_generator(gan).get_weights()
    for before, after, average in zip(initial, trained, averaged):
        np.testing.assert_allclose(average, first * before + (1 - first) * after, rtol=1e-5, atol=1e-6)
    # The average is sampled; the generator keeps training.
    assert any(not np.allclose(a, b) for a, b in zip(averaged, trained))
    np.testing.assert_allclose(gan.generate(4, seed=3),
                               keras.ops.convert_to_numpy(sampling_generator(gan)(
                                   keras.random.normal((4, 8), seed=3))), atol=1e-6)


def test_average_is_saved_with_the_gan(tmp_path):
    images, _ = load_images("mnist", source="bundled", max_images=64)
    gan = GAN(build_generator(8, base_filters=4), build_discriminator(base_filters=4), seed=0)
    gan.compile(ema=0.9)
    gan.fit(images, batch_size=32, epochs=1, verbose=0)
    gan.save(tmp_path / "gan.keras")
    loaded = keras.models.load_model(tmp_path / "gan.keras")
    assert loaded.generator_ema.decay == 0.9
    for a, b in zip(sampling_generator(gan).get_weights(), sampling_generator(loaded).get_weights()):
        np.testing.assert_array_equal(a, b)


def test_train_saves_and_evaluates_the_averaged_generator(tmp_path):
    config = TrainConfig(source="bundled", max_images=64, batch_size=32, epochs=2, base_filters=4, latent_dim=8,
                         evaluate_every=0, ema=0.9, seed=0)
    result = train(config, tmp_path / "run", verbose=0)
    saved = keras.models.load_model(tmp_path / "run" / "generator.keras", compile=False)
    for a, b in zip(saved.get_weights(), sampling_generator(result.model).get_weights()):
        np.testing.assert_array_equal(a, b)
    assert any(not np.allclose(a, b) for a, b in zip(saved.get_weights(), result.model.generator.get_weights()))
    assert json.loads((tmp_path / "run" / "history.json").read_text())["config"]["ema"] == 0.9


def test_annealing_factor_is_flat_then_linear_to_the_end_value():
    assert annealing_factor(0.0, 0.5) == 1.0
    assert annealing_factor(0.5, 0.5) == 1.0
    assert annealing_factor(0.75, 0.5) == pytest.approx(0.5)
    assert annealing_factor(1.0, 0.5) == 0.0
    assert annealing_factor(1.3, 0.5, final_factor=0.1) == pytest.approx(0.1)  # held after the budget
    assert annealing_factor(0.99, 0.0) == 1.0  # fraction 0: constant


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_annealing_reaches_its_end_value_when_the_time_budget_ends():
    gan = GAN(build_generator(8, base_filters=4), build_discriminator(base_filters=4))
    gan.compile(keras.optimizers.Adam(2e-4), keras.optimizers.Adam(6e-4))
    clock = FakeClock()
    annealing = LearningRateAnnealing(0.5, max_seconds=60, final_factor=0.1, clock=clock)
    annealing.set_model(gan)
    annealing.set_params({"epochs": 1000, "steps": 10})

    def rates():
        return [float(keras.ops.convert_to_numpy(o.learning_rate)) for o in (gan.g_optimizer, gan.d_optimizer)]

    annealing.on_train_begin()
    for seconds, factor in ((0, 1.0), (30, 1.0), (45, 0.55), (60, 0.1), (75, 0.1)):
        clock.now = 100.0 + seconds
        annealing.on_train_batch_begin(0)
        np.testing.assert_allclose(rates(), [2e-4 * factor, 6e-4 * factor], rtol=1e-5)


def test_annealing_follows_the_epochs_when_there_is_no_time_budget():
    images, _ = load_images("mnist", source="bundled", max_images=64)
    gan = GAN(build_generator(8, base_filters=4), build_discriminator(base_filters=4), seed=0)
    gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    annealing = LearningRateAnnealing(0.5)
    history = gan.fit(images, batch_size=32, epochs=4, verbose=0, callbacks=[annealing])
    # The last batch starts at progress (3 + 1/2) / 4 = 0.875: factor 0.25.
    last = float(keras.ops.convert_to_numpy(gan.g_optimizer.learning_rate))
    assert last == pytest.approx(1e-3 * annealing_factor(3.5 / 4, 0.5), rel=1e-5)
    assert history.history["learning_rate_factor"] == pytest.approx([1.0, 1.0, 0.5, 0.0])
