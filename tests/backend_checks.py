"""Checks of the GAN on one Keras backend, run in a fresh interpreter by
tests/test_backends.py (KERAS_BACKEND is fixed once Keras is imported).

    python tests/backend_checks.py BACKEND STEP_FILE OUT_DIR [--block-tensorflow]

prints one line ``RESULT {json}`` with what each check measured; the tests
make the assertions. With --block-tensorflow, ``import tensorflow`` fails in
this process, as on a machine without TensorFlow.
"""

import json
import os
import sys
from pathlib import Path

BACKEND, STEP_FILE, OUT_DIR = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])

from backend_checks_env import prepare_backend  # noqa: E402  (tests/, the folder this script runs from)

prepare_backend(BACKEND, "--block-tensorflow" in sys.argv)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from gan_keras import GAN, build_discriminator, build_generator, make_dataset  # noqa: E402
from gan_keras.gan import descend  # noqa: E402
from gan_keras.data import load_images  # noqa: E402
from gan_keras.losses import gradient_penalty  # noqa: E402
from interruption import straight_and_resumed  # noqa: E402


def weights_changed(before, after):
    return [bool(not np.array_equal(a, b)) for a, b in zip(before, after)]


class SampleMoments(keras.callbacks.Callback):
    """Mean and spread of 1,000 samples (fixed noise) after every epoch."""

    def __init__(self):
        super().__init__()
        self.means, self.stds = [], []

    def on_epoch_end(self, epoch, logs=None):
        samples = self.model.generate(1000, seed=1)
        self.means.append(samples.mean(axis=0))
        self.stds.append(samples.std(axis=0))


def learns_a_two_dimensional_gaussian():
    """Real points ~ N((2, -1), diag(0.5^2, 0.3^2)). A GAN this small hovers
    around the target instead of settling, so its samples' moments are
    averaged over the last 8 of 20 epochs."""
    keras.utils.set_random_seed(0)
    real = np.random.default_rng(0).normal([2.0, -1.0], [0.5, 0.3], size=(4096, 2)).astype("float32")
    gan = GAN(build_generator(4, (2,), kind="mlp", hidden_units=(32, 32), output_activation=None),
              build_discriminator((2,), kind="mlp", hidden_units=(32, 32), dropout=0.0), seed=0)
    gan.compile(keras.optimizers.Adam(1e-3, beta_1=0.5), keras.optimizers.Adam(1e-3, beta_1=0.5))
    before = gan.generate(1000, seed=1)
    moments = SampleMoments()
    gan.fit(real, batch_size=128, epochs=20, verbose=0, shuffle=True, callbacks=[moments])
    return {"mean_before": before.mean(axis=0).tolist(), "mean": np.mean(moments.means[-8:], axis=0).tolist(),
            "std": np.mean(moments.stds[-8:], axis=0).tolist()}


def penalty_on_a_flat_critic():
    """WGAN-GP's penalty on a critic with zero slope (where a plain sqrt would
    give NaN gradients), then a few optimizer steps on the penalty alone from
    a nearly flat critic."""
    real = np.random.default_rng(1).normal(size=(16, 4)).astype("float32")
    fake = np.random.default_rng(2).normal(size=(16, 4)).astype("float32")
    seed = keras.random.SeedGenerator(0)

    def critic_and_optimizer(initializer):
        inputs = keras.Input((4,))
        critic = keras.Model(inputs, keras.layers.Dense(1, kernel_initializer=initializer)(inputs))
        optimizer = keras.optimizers.SGD(0.1)
        optimizer.build(critic.trainable_variables)
        return critic, optimizer

    def penalty_step(critic, optimizer):
        penalty, _ = descend(critic, critic.trainable_variables, optimizer,
                             lambda: (keras.ops.mean(gradient_penalty(critic, real, fake, seed=seed)), None))
        # SGD: the step is -learning_rate * gradient, so finite weights mean finite gradients.
        finite = all(np.isfinite(weights).all() for weights in critic.get_weights())
        return float(keras.ops.convert_to_numpy(penalty)), bool(finite)

    keras.utils.set_random_seed(0)
    flat_penalty, flat_finite = penalty_step(*critic_and_optimizer("zeros"))
    critic, optimizer = critic_and_optimizer(keras.initializers.RandomNormal(stddev=0.01, seed=0))
    penalties = [penalty_step(critic, optimizer)[0] for _ in range(5)]
    return {"flat_penalty": flat_penalty, "flat_gradients_finite": flat_finite, "penalties": penalties}


def conditional_step(images, labels):
    keras.utils.set_random_seed(0)
    gan = GAN(build_generator(8, num_classes=10, base_filters=8), build_discriminator(num_classes=10, base_filters=8),
              seed=0)
    gan.compile(label_smoothing=0.1)
    g_before, d_before = gan.generator.get_weights(), gan.discriminator.get_weights()
    history = gan.fit(make_dataset(images[:64], labels[:64], batch_size=32, seed=0), epochs=1, verbose=0).history
    samples = gan.generate(10, labels=np.arange(10), seed=0)
    return {"losses_finite": bool(np.isfinite(history["d_loss"] + history["g_loss"]).all()),
            "d_changed": weights_changed(d_before, gan.discriminator.get_weights()),
            "g_changed": weights_changed(g_before, gan.generator.get_weights()),
            "sample_shape": list(samples.shape)}


def same_seed_same_samples(images):
    samples = []
    for _ in range(2):
        keras.utils.set_random_seed(3)
        gan = GAN(build_generator(8, base_filters=8), build_discriminator(base_filters=8), seed=3)
        gan.compile(loss="wgan_gp", d_steps=2)
        gan.fit(make_dataset(images[:64], batch_size=32, seed=3), epochs=2, verbose=0)
        samples.append(gan.generate(8))  # no seed: the model's own SeedGenerator
    return {"max_difference": float(np.abs(samples[0] - samples[1]).max()),
            "moved": float(np.abs(samples[0]).mean())}


def regularisers_on_a_linear_d(images):
    """R1 on a linear D (closed form ||w||^2, lazily every 2nd D step), the
    gradient of a translated batch (ones where a source pixel stays in view),
    and one compiled epoch with DiffAugment and lazy R1 (D with dropout) that trains both networks."""
    from gan_keras.augment import translate
    from gan_keras.autodiff import input_gradients
    from gan_keras.losses import r1_penalty

    keras.utils.set_random_seed(0)
    noise = keras.Input((4,))
    generator = keras.Model(noise, keras.layers.Reshape((28, 28, 1))(keras.layers.Dense(784, activation="tanh")(noise)))
    pixels = keras.Input((28, 28, 1))
    linear = keras.Model(pixels, keras.layers.Dense(1)(keras.layers.Flatten()(pixels)))
    real, fake = images[:8], images[8:16]
    plain = GAN(generator, linear, seed=0)
    plain.compile()
    base = float(keras.ops.convert_to_numpy(plain.discriminator_loss(real, fake)[0]))
    gan = GAN(generator, linear, seed=0)
    gan.compile(r1_weight=2.0, r1_every=2)
    extra = []
    for iteration in range(2):
        gan.d_optimizer.iterations.assign(iteration)
        extra.append(float(keras.ops.convert_to_numpy(gan.discriminator_loss(real, fake)[0])) - base)
    # Uniform noise: no pixel is exactly -1 (the fill) unless translation uncovered it.
    noise_images = np.random.default_rng(0).uniform(-1, 1, size=(8, 28, 28, 1)).astype("float32")
    shifted_gradient = keras.ops.convert_to_numpy(
        input_gradients(lambda x: translate(x, 0.125, seed=1), keras.ops.convert_to_tensor(noise_images)))
    shifted = keras.ops.convert_to_numpy(translate(noise_images, 0.125, seed=1))

    keras.utils.set_random_seed(0)
    # With dropout in D: on JAX, lazy R1's branch must not change the dropout seeds (a leaked tracer).
    regularised = GAN(build_generator(8, base_filters=4), build_discriminator(base_filters=4, dropout=0.3), seed=0)
    regularised.compile(augment="translation_cutout", r1_weight=1.0, r1_every=2)
    before = regularised.get_weights()
    history = regularised.fit(make_dataset(images[:64], batch_size=32, seed=0), epochs=1, verbose=0).history
    changed = weights_changed(before, regularised.get_weights())
    return {
        "penalty": keras.ops.convert_to_numpy(r1_penalty(linear, real)).tolist(),
        "squared_norm": float(np.sum(np.square(keras.ops.convert_to_numpy(linear.layers[-1].kernel)))),
        "lazy_extra": extra,
        "translation_gradient_values": sorted(set(np.unique(shifted_gradient).tolist())),
        "translation_gradient_sum": float(shifted_gradient.sum()),
        "translated_in_view": int((shifted != -1.0).sum()),
        "finite": bool(np.isfinite(history["d_loss"] + history["g_loss"]).all()),
        "all_weights_changed": all(changed),
    }


def every_loss_trains(images):
    """One epoch of each loss (WGAN-GP with 2 critic steps), and one under mixed precision."""
    from gan_keras.losses import LOSSES
    from gan_keras.training.mixed_precision import precision_policy

    results = {}
    for loss in sorted(LOSSES):
        keras.utils.set_random_seed(0)
        gan = GAN(build_generator(8, base_filters=4), build_discriminator(base_filters=4), seed=0)
        gan.compile(loss=loss, d_steps=2 if loss == "wgan_gp" else 1)
        before = gan.get_weights()
        history = gan.fit(make_dataset(images[:64], batch_size=32, seed=0), epochs=1, verbose=0).history
        unchanged = [weight.path for weight, changed in zip(gan.weights, weights_changed(before, gan.get_weights()))
                     if not changed]
        results[loss] = {"finite": bool(np.isfinite(history["d_loss"] + history["g_loss"]).all()),
                         "unchanged": unchanged, "keys": sorted(history)}
    with precision_policy("mixed_float16"):
        keras.utils.set_random_seed(0)
        mixed = GAN(build_generator(8, base_filters=4), build_discriminator(base_filters=4), seed=0)
    mixed.compile()
    history = mixed.fit(make_dataset(images[:64], batch_size=32, seed=0), epochs=1, verbose=0).history
    results["mixed_precision"] = {
        "finite": bool(np.isfinite(history["d_loss"] + history["g_loss"]).all()),
        "loss_scaled": type(mixed.d_optimizer).__name__ == "LossScaleOptimizer",
        "float16": mixed.generator.layers[1].compute_dtype == "float16"}
    return results


def vae_trains_and_round_trips(images):
    from gan_keras.vae import VAE, build_decoder, build_encoder

    keras.utils.set_random_seed(0)
    vae = VAE(build_encoder(4, base_filters=8), build_decoder(4, base_filters=8), beta=2.0, seed=0)
    vae.compile(keras.optimizers.Adam(2e-3))
    dataset = make_dataset(images, batch_size=32, seed=0)
    before = vae.evaluate(dataset, verbose=0, return_dict=True)["loss"]
    vae.fit(dataset, epochs=8, verbose=0)
    after = vae.evaluate(dataset, verbose=0, return_dict=True)["loss"]
    path = OUT_DIR / "vae.keras"
    vae.save(path)
    reloaded = keras.models.load_model(path, safe_mode=True)
    return {"loss_before": before, "loss_after": after,
            "reload_difference": float(np.abs(reloaded.generate(4, seed=1) - vae.generate(4, seed=1)).max())}


def resume_equals_uninterrupted():
    from gan_keras.training import TrainConfig

    # With the generator's moving average and annealing: both are state a resumed run must restore.
    config = TrainConfig(source="bundled", max_images=128, batch_size=32, epochs=3, base_filters=8, latent_dim=8,
                         evaluate_every=0, seed=4, ema=0.9, anneal=0.5)
    straight, resumed, history = straight_and_resumed(config, OUT_DIR, interrupt_at=2)
    return {"resumed_after": history["resumed_after_epochs"], "epochs": resumed.epochs_run,
            "max_difference": max(float(np.abs(a - b).max())
                                  for a, b in zip(straight.model.get_weights(), resumed.model.get_weights()))}


def average_follows_its_formula(images):
    """One compiled step of a GAN with `ema`: the average is the warm-up's
    first mix of the initial and the updated weights."""
    from gan_keras.averaging import sampling_generator

    gan = GAN(build_generator(8, base_filters=4), build_discriminator(base_filters=4), seed=0)
    gan.compile(ema=0.99)
    initial = gan.generator.get_weights()
    gan.fit(images[:32], batch_size=32, epochs=1, verbose=0)
    first = 2 / 11
    expected = [first * a + (1 - first) * b for a, b in zip(initial, gan.generator.get_weights())]
    averaged = sampling_generator(gan).get_weights()
    return {"max_difference": max(float(np.abs(a - b).max()) for a, b in zip(averaged, expected)),
            "moved": max(float(np.abs(a - b).max()) for a, b in zip(averaged, initial))}


def one_step_from_saved_weights():
    """One D and one G update (plain SGD, no dropout) from weights and noise
    saved by the test, so that every backend starts from the same numbers."""
    saved = np.load(STEP_FILE)
    gan = GAN(build_generator(8, base_filters=4), build_discriminator(base_filters=4, dropout=0.0), seed=0)
    gan.compile(keras.optimizers.SGD(0.05), keras.optimizers.SGD(0.05))
    gan.set_weights([saved[f"weight_{index}"] for index in range(len(gan.get_weights()))])
    noise = iter([saved["d_noise"], saved["g_noise"]])
    gan._sample_noise = lambda batch_size: keras.ops.convert_to_tensor(next(noise))
    d_logs = gan.discriminator_step(saved["images"])
    g_logs = gan.generator_step(len(saved["images"]))
    np.savez(OUT_DIR / f"step_{BACKEND}.npz", *gan.get_weights())
    return {"d_loss": float(keras.ops.convert_to_numpy(d_logs["d_loss"])),
            "g_loss": float(keras.ops.convert_to_numpy(g_logs["g_loss"]))}


def tiny_gan_from_saved_weights(g_optimizer=None):
    saved = np.load(STEP_FILE)
    generator, discriminator = build_generator(8, base_filters=4), build_discriminator(base_filters=4, dropout=0.0)
    weights = [saved[f"weight_{index}"] for index in range(len(generator.weights) + len(discriminator.weights))]
    generator.set_weights(weights[:len(generator.weights)])
    discriminator.set_weights(weights[len(generator.weights):])
    gan = GAN(generator, discriminator, seed=5)
    gan.compile(g_optimizer or keras.optimizers.SGD(0.05), keras.optimizers.SGD(0.05))
    return gan, saved["images"]


def gan_step_equals_the_handwritten_step():
    """One `fit` step of a GAN (Keras' own trainer: compiled on TensorFlow,
    jitted and stateless on JAX) against `gan_keras.teaching.handwritten`'s step from
    the same weights, drawing noise from a SeedGenerator with the same seed:
    D's noise first, then fresh noise for G."""
    from gan_keras.teaching.handwritten import algorithm_1_step

    gan, images = tiny_gan_from_saved_weights()
    initial = gan.get_weights()
    history = gan.fit(images, batch_size=len(images), epochs=1, verbose=0, shuffle=False).history
    reference, _ = tiny_gan_from_saved_weights()
    d_loss, g_loss = algorithm_1_step(reference.generator, reference.discriminator, keras.optimizers.SGD(0.05),
                                      keras.optimizers.SGD(0.05), images, keras.random.SeedGenerator(5))
    networks = ("generator", "discriminator")
    return {
        "max_difference": {name: max(float(np.abs(a - b).max()) for a, b in zip(
            getattr(gan, name).get_weights(), getattr(reference, name).get_weights())) for name in networks},
        "moved": max(float(np.abs(a - b).max()) for a, b in zip(initial, reference.get_weights())),
        "losses": [history["d_loss"][0], history["g_loss"][0]],
        "handwritten_losses": [float(keras.ops.convert_to_numpy(d_loss)), float(keras.ops.convert_to_numpy(g_loss))],
    }


def optimizer_average_is_swapped_in():
    """`compile(g_optimizer=Adam(use_ema=True))`: at the end of `fit` G holds
    the optimizer's average of its iterates. Two steps with momentum m give
    m * W1 + (1 - m) * W2, with W1 and W2 the weights after one and two steps
    of the same run without the average (the average does not change the run)."""
    def run(steps, use_ema):
        gan, images = tiny_gan_from_saved_weights(keras.optimizers.Adam(1e-2, use_ema=use_ema, ema_momentum=0.6))
        batch = len(images) // 2
        gan.fit(images[:batch * steps], batch_size=batch, epochs=1, verbose=0, shuffle=False)
        return gan

    def trainable(model):  # the average covers trainable weights, not batch-norm statistics
        return [keras.ops.convert_to_numpy(weight.value) for weight in model.trainable_weights]

    first, second, averaged = run(1, False), run(2, False), run(2, True)
    expected = [0.6 * a + 0.4 * b for a, b in zip(trainable(first.generator), trainable(second.generator))]
    return {
        "g_difference": max(float(np.abs(a - b).max()) for a, b in zip(trainable(averaged.generator), expected)),
        "g_from_last": max(float(np.abs(a - b).max())
                           for a, b in zip(trainable(averaged.generator), trainable(second.generator))),
        "d_difference": max(float(np.abs(a - b).max())
                            for a, b in zip(averaged.discriminator.get_weights(), second.discriminator.get_weights())),
    }


def sigmoid_before_from_logits_is_caught():
    """keras.ops.sigmoid, then BinaryCrossentropy(from_logits=True): the value is right on TensorFlow
    only (Keras there recovers the logits from the sigmoid); the check must fail it everywhere."""
    from gan_keras.grading import check_discriminator_loss

    cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True)

    def discriminator_loss(real_logits, fake_logits):
        real, fake = keras.ops.sigmoid(real_logits), keras.ops.sigmoid(fake_logits)
        return cross_entropy(keras.ops.ones_like(real), real) + cross_entropy(keras.ops.zeros_like(fake), fake)

    try:
        check_discriminator_loss(discriminator_loss)
    except AssertionError as error:
        return {"message": str(error)}
    return {"message": None}


def backend_specific_features():
    """TensorBoard off TensorFlow, and data parallelism on each backend's own engine
    (a clear error on PyTorch, before any output folder exists)."""
    import tempfile

    from gan_keras.training.distribute import get_distribution
    from gan_keras.training import TrainConfig, train

    def message(attempt):
        try:
            attempt()
        except ValueError as error:
            return str(error)
        return None

    try:
        engine = get_distribution("data_parallel").engine
    except ValueError as error:
        engine = str(error)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "run"
        config = TrainConfig(source="bundled", max_images=64, epochs=1, base_filters=4, evaluate_every=0,
                             distribution="data_parallel")
        train_message = message(lambda: train(config, out, verbose=0)) if keras.backend.backend() == "torch" else None
        left_behind = out.exists()
    return {"tensorboard": message(lambda: TrainConfig(tensorboard=True).validate()),
            "data_parallel_engine": engine, "train_message": train_message, "left_behind": left_behind}


def cli_train_and_sample():
    from gan_keras.training.cli import main

    out = OUT_DIR / "cli"
    train_status = main(["train", "--backend", BACKEND, "--source", "bundled", "--model", "mlp", "--max-images", "64",
                         "--batch-size", "32", "--epochs", "2", "--evaluate-every", "1", "--out", str(out)])
    sample_status = main(["sample", "--backend", BACKEND, "--generator", str(out / "generator.keras"), "--n", "4",
                          "--out", str(OUT_DIR / "samples.npy")])
    evaluate_status = main(["evaluate", "--backend", BACKEND, "--generator", str(out / "generator.keras"),
                            "--n", "100", "--json"])
    record = json.loads((out / "history.json").read_text())
    return {"train_status": train_status, "sample_status": sample_status, "evaluate_status": evaluate_status,
            "backend": record["versions"]["backend"], "frames": len(list((out / "samples").glob("*.png"))),
            "samples_shape": list(np.load(OUT_DIR / "samples.npy").shape)}


if __name__ == "__main__":
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    images, labels = load_images("mnist", source="bundled", max_images=128)
    result = {
        "backend": keras.backend.backend(),
        "tensorflow_loaded": sys.modules.get("tensorflow") is not None,
        "toy": learns_a_two_dimensional_gaussian(),
        "penalty": penalty_on_a_flat_critic(),
        "conditional": conditional_step(images, labels),
        "losses": every_loss_trains(images),
        "regularisers": regularisers_on_a_linear_d(images),
        "vae": vae_trains_and_round_trips(images),
        "repeatable": same_seed_same_samples(images),
        "resume": resume_equals_uninterrupted(),
        "one_step": one_step_from_saved_weights(),
        "handwritten": gan_step_equals_the_handwritten_step(),
        "use_ema": optimizer_average_is_swapped_in(),
        "average": average_follows_its_formula(images),
        "cli": cli_train_and_sample(),
        "backend_specific": backend_specific_features(),
        "sigmoid_before_from_logits": sigmoid_before_from_logits_is_caught(),
    }
    result["tensorflow_loaded"] = result["tensorflow_loaded"] or sys.modules.get("tensorflow") is not None
    print("RESULT " + json.dumps(result))
