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
if "--block-tensorflow" in sys.argv:
    sys.modules["tensorflow"] = None  # any `import tensorflow` now raises ImportError
os.environ["KERAS_BACKEND"] = BACKEND
os.environ["GAN_KERAS_OFFLINE"] = "1"

import keras  # noqa: E402
import numpy as np  # noqa: E402

from gan_keras import GAN, build_discriminator, build_generator, make_dataset  # noqa: E402
from gan_keras.autodiff import apply_update, losses_and_gradients, run_in_state  # noqa: E402
from gan_keras.data import load_images  # noqa: E402
from gan_keras.losses import gradient_penalty  # noqa: E402


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
        def step():
            def loss_fn():
                penalty = keras.ops.mean(gradient_penalty(critic, real, fake, seed=seed))
                return (penalty,), penalty

            _, penalty, (gradients,) = losses_and_gradients(loss_fn, [critic.trainable_variables])
            apply_update(optimizer, gradients, critic.trainable_variables)
            return penalty, gradients

        penalty, gradients = run_in_state(critic, step, optimizer.variables)
        finite = all(np.isfinite(keras.ops.convert_to_numpy(g)).all() for g in gradients)
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


class Interrupt(Exception):
    pass


class InterruptAt(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise Interrupt


def resume_equals_uninterrupted():
    from gan_keras.training import TrainConfig, train

    config = TrainConfig(source="bundled", max_images=128, batch_size=32, epochs=3, base_filters=8, latent_dim=8,
                         evaluate_every=0, seed=4)
    straight = train(config, OUT_DIR / "straight", verbose=0).model
    try:
        train(config, OUT_DIR / "resumed", verbose=0, extra_callbacks=[InterruptAt(2)])
    except Interrupt:
        pass
    resumed = train(config, OUT_DIR / "resumed", verbose=0)
    history = json.loads((OUT_DIR / "resumed" / "history.json").read_text())
    return {"resumed_after": history["resumed_after_epochs"], "epochs": resumed.epochs_run,
            "max_difference": max(float(np.abs(a - b).max())
                                  for a, b in zip(straight.get_weights(), resumed.model.get_weights()))}


def one_step_from_saved_weights():
    """One D and one G update (plain SGD, no dropout) from weights and noise
    saved by the test, so that every backend starts from the same numbers."""
    saved = np.load(STEP_FILE)
    gan = GAN(build_generator(8, base_filters=4), build_discriminator(base_filters=4, dropout=0.0), seed=0)
    gan.compile(keras.optimizers.SGD(0.05), keras.optimizers.SGD(0.05))
    gan.set_weights([saved[f"weight_{index}"] for index in range(len(gan.get_weights()))])
    noise = iter([saved["d_noise"], saved["g_noise"]])
    gan._sample_noise = lambda batch_size: keras.ops.convert_to_tensor(next(noise))
    d_logs = run_in_state(gan, lambda: gan.discriminator_step(saved["images"]), gan.optimizer.variables)
    g_logs = run_in_state(gan, lambda: gan.generator_step(len(saved["images"])), gan.optimizer.variables)
    np.savez(OUT_DIR / f"step_{BACKEND}.npz", *gan.get_weights())
    return {"d_loss": float(keras.ops.convert_to_numpy(d_logs["d_loss"])),
            "g_loss": float(keras.ops.convert_to_numpy(g_logs["g_loss"]))}


def cli_train_and_sample():
    from gan_keras.cli import main

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
    images, labels = load_images("mnist", source="bundled", max_images=128)
    result = {
        "backend": keras.backend.backend(),
        "tensorflow_loaded": bool(sys.modules.get("tensorflow")),
        "toy": learns_a_two_dimensional_gaussian(),
        "penalty": penalty_on_a_flat_critic(),
        "conditional": conditional_step(images, labels),
        "repeatable": same_seed_same_samples(images),
        "resume": resume_equals_uninterrupted(),
        "one_step": one_step_from_saved_weights(),
        "cli": cli_train_and_sample(),
    }
    result["tensorflow_loaded"] = result["tensorflow_loaded"] or bool(sys.modules.get("tensorflow"))
    print("RESULT " + json.dumps(result))
