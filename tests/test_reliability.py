"""Divergence guard, TensorBoard logs, saving and loading, repeatability."""

import json

import keras
import numpy as np
import tensorflow as tf

from conftest import run_cli
from gan_keras import GAN, build_discriminator, build_generator, make_dataset
from gan_keras.callbacks import DivergenceGuard, TrainingGIF
from gan_keras.losses import GANLoss, minimax_discriminator_loss


def _mlp_gan(loss="non_saturating"):
    keras.utils.set_random_seed(0)
    gan = GAN(build_generator(8, kind="mlp", hidden_units=(16,)), build_discriminator(kind="mlp", hidden_units=(16,)), seed=0)
    gan.compile(loss=loss)
    return gan


def _exploding_generator_loss(fake_logits):
    # The log of a negative number: a NaN loss whose NaN gradient poisons G.
    return keras.ops.log(-1.0 - keras.ops.abs(keras.ops.reshape(fake_logits, (-1,))))


def test_divergence_guard_stops_and_keeps_the_last_good_weights(mnist_sample):
    gan = _mlp_gan(GANLoss("exploding", minimax_discriminator_loss, _exploding_generator_loss))
    before = [w.copy() for w in gan.get_weights()]
    guard = DivergenceGuard()
    history = gan.fit(make_dataset(mnist_sample[0][:64], batch_size=32), epochs=5, verbose=0, callbacks=[guard])
    assert len(history.history["g_loss"]) == 1
    assert guard.diverged_epoch == 1
    assert "epoch 1" in guard.message and "g_loss is nan" in guard.message
    for kept, original in zip(gan.get_weights(), before):
        np.testing.assert_array_equal(kept, original)


def test_divergence_guard_leaves_healthy_training_alone(mnist_sample):
    gan = _mlp_gan()
    guard = DivergenceGuard()
    history = gan.fit(make_dataset(mnist_sample[0][:64], batch_size=32), epochs=2, verbose=0, callbacks=[guard])
    assert len(history.history["g_loss"]) == 2 and guard.message is None


def test_training_gif_logs_sample_grids_for_tensorboard(tmp_path, mnist_sample):
    gan = _mlp_gan()
    callback = TrainingGIF(tmp_path / "samples", num_images=4, tensorboard_dir=tmp_path / "logs")
    gan.fit(make_dataset(mnist_sample[0][:64], batch_size=32), epochs=2, verbose=0, callbacks=[callback])
    event_files = list((tmp_path / "logs" / "samples").glob("events.out.tfevents.*"))
    assert len(event_files) == 1
    steps = []
    for record in tf.data.TFRecordDataset(str(event_files[0])):
        event = tf.compat.v1.Event.FromString(record.numpy())
        steps += [event.step for value in event.summary.value if value.tag == "samples"]
    assert steps == [1, 2]


def test_gan_round_trips_through_the_keras_format(tmp_path, mnist_sample):
    gan = _mlp_gan("hinge")
    gan.compile(loss="hinge", d_steps=2, label_smoothing=0.1)
    images = mnist_sample[0][:64]
    gan.fit(images, batch_size=32, epochs=1, verbose=0, shuffle=False)
    gan.save(tmp_path / "gan.keras")
    reloaded = keras.models.load_model(tmp_path / "gan.keras", safe_mode=True)
    assert isinstance(reloaded, GAN) and reloaded.latent_dim == gan.latent_dim
    np.testing.assert_array_equal(reloaded.generate(3, seed=5), gan.generate(3, seed=5))
    # Compiled as it was, with the optimizers' state: training goes on identically.
    assert (reloaded.gan_loss.name, reloaded.d_steps, reloaded.label_smoothing) == ("hinge", 2, 0.1)
    assert int(reloaded.d_optimizer.iterations.numpy()) == int(gan.d_optimizer.iterations.numpy()) == 4
    for model in (gan, reloaded):
        model.fit(images, batch_size=32, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(reloaded.get_weights(), gan.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_same_seed_gives_identical_sample_grids(tmp_path):
    outputs = []
    for name in ("first", "second"):
        out = tmp_path / name
        result = run_cli(
            "train", "--source", "bundled", "--max-images", "128", "--batch-size", "32", "--epochs", "2",
            "--seed", "3", "--evaluate-every", "0", "--out", str(out),
        )
        assert result.returncode == 0, result.stderr[-2000:]
        outputs.append(out)
    for epoch in ("epoch_001.png", "epoch_002.png"):
        assert (outputs[0] / "samples" / epoch).read_bytes() == (outputs[1] / "samples" / epoch).read_bytes()
    histories = [json.loads((out / "history.json").read_text())["history"] for out in outputs]
    timings = [history.pop("epoch_seconds") for history in histories]  # wall time is the one thing that differs
    assert histories[0] == histories[1] and len(timings[0]) == len(timings[1]) == 2


def test_cli_tensorboard_flag_writes_logs(tmp_path):
    out = tmp_path / "tb"
    result = run_cli(
        "train", "--source", "bundled", "--model", "mlp", "--max-images", "64", "--batch-size", "32",
        "--epochs", "1", "--evaluate-every", "0", "--tensorboard", "--out", str(out),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert list((out / "logs").rglob("events.out.tfevents.*"))


class _PoisonDiscriminatorAt(keras.callbacks.Callback):
    """Fill D's first kernel with NaN at the start of one epoch: that epoch's losses are NaN."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            kernel = self.model.discriminator.trainable_weights[0]
            kernel.assign(np.full(kernel.shape, np.nan, "float32"))


def test_train_reports_divergence_and_keeps_only_the_good_epochs(tmp_path):
    import imageio.v3 as iio

    from gan_keras.training import TrainConfig, TrainingDiverged, load_generator, train

    config = TrainConfig(source="bundled", model="mlp", max_images=64, batch_size=32, epochs=4,
                         evaluate_every=1, seed=0)
    out = tmp_path / "run"
    try:
        train(config, out, verbose=0, extra_callbacks=[_PoisonDiscriminatorAt(2)])
    except TrainingDiverged as error:  # a RuntimeError whose message names the epoch and the loss
        message = str(error)
    else:
        raise AssertionError("train() did not raise TrainingDiverged")
    assert "training diverged in epoch 3: d_loss is nan" in message and "end of epoch 2" in message
    record = json.loads((out / "history.json").read_text())
    assert record["diverged"] in message and record["epochs_run"] == 2
    # The rolled-back epoch is in no output: history, grids, GIF, evaluations.
    assert {key: len(values) for key, values in record["history"].items() if not key.startswith("eval_")} == {
        "d_loss": 2, "g_loss": 2, "d_real_accuracy": 2, "d_fake_accuracy": 2, "epoch_seconds": 2}
    assert record["history"]["eval_epoch"] == [1, 2]
    assert sorted(path.name for path in (out / "samples").iterdir()) == ["epoch_001.png", "epoch_002.png"]
    assert iio.imread(out / "training.gif", index=None).shape[0] == 2
    kept = load_generator(out / "generator.keras")
    assert all(np.isfinite(weight).all() for weight in kept.get_weights())
    assert not (out / "backup").exists()


def test_cli_reports_divergence_in_one_line(tmp_path):
    out = tmp_path / "run"
    # A learning rate of 1e30 blows the weights up within the first epoch.
    result = run_cli(
        "train", "--source", "bundled", "--model", "mlp", "--loss", "lsgan", "--learning-rate", "1e30",
        "--max-images", "128", "--batch-size", "32", "--epochs", "3", "--evaluate-every", "0", "--out", str(out),
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("gan_keras: error: training diverged in epoch 1: ")
    assert "is nan" in result.stderr and "kept the weights from before training" in result.stderr
    assert json.loads((out / "history.json").read_text())["epochs_run"] == 0


def test_cli_overwrite_replaces_results_and_keeps_other_files(tmp_path):
    out = tmp_path / "run"
    args = ["train", "--source", "bundled", "--model", "mlp", "--max-images", "64", "--batch-size", "32",
            "--evaluate-every", "0", "--out", str(out)]
    assert run_cli(*args, "--epochs", "2", "--seed", "1").returncode == 0
    (out / "notes.txt").write_text("my notes")

    result = run_cli(*args, "--epochs", "1", "--seed", "2", "--overwrite")

    assert result.returncode == 0, result.stderr[-2000:]
    assert (out / "notes.txt").read_text() == "my notes"
    assert json.loads((out / "history.json").read_text())["config"]["seed"] == 2
    # The earlier run's grids are gone, not mixed into the new run's.
    assert sorted(path.name for path in (out / "samples").iterdir()) == ["epoch_001.png"]


def test_mixed_precision_gan_round_trips_through_the_keras_format(tmp_path, mnist_sample):
    from gan_keras.training.mixed_precision import precision_policy

    with precision_policy("mixed_float16"):
        keras.utils.set_random_seed(0)
        gan = GAN(build_generator(16, base_filters=8), build_discriminator(base_filters=8), seed=0)
        gan.compile()
    images = mnist_sample[0][:64]
    gan.fit(images, batch_size=32, epochs=1, verbose=0, shuffle=False)
    gan.save(tmp_path / "gan.keras")
    reloaded = keras.models.load_model(tmp_path / "gan.keras", safe_mode=True)  # under the float32 policy
    assert reloaded.generator.layers[1].compute_dtype == "float16"
    assert isinstance(reloaded.g_optimizer, keras.optimizers.LossScaleOptimizer)
    assert isinstance(reloaded.d_optimizer, keras.optimizers.LossScaleOptimizer)
    np.testing.assert_array_equal(reloaded.generate(3, seed=5), gan.generate(3, seed=5))
    for model in (gan, reloaded):
        model.fit(images, batch_size=32, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(reloaded.get_weights(), gan.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)
