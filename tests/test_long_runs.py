"""Issue 7: resuming a killed run, the random state in backups, mixed
precision with two loss-scaled optimizers, and MirroredStrategy."""

import dataclasses
import hashlib
import json
import signal
import subprocess
import sys
import textwrap
import time

import imageio.v3 as iio
import keras
import numpy as np
import pytest

from conftest import REPO_ROOT, run_cli
from interruption import Interrupt, InterruptAt
from gan_keras import GAN, VAE, build_discriminator, build_generator
from gan_keras.training.mixed_precision import precision_policy
from gan_keras.training import TrainConfig
from gan_keras.vae import build_decoder, build_encoder

TRAIN_ARGS = [
    "train", "--source", "bundled", "--max-images", "256", "--batch-size", "64", "--base-filters", "8",
    "--latent-dim", "16", "--evaluate-every", "0", "--seed", "3",
]


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _finished_epochs(backup):
    try:
        return json.loads((backup / "training_metadata.json").read_text())["epoch"]
    except (OSError, ValueError, KeyError):
        return 0  # not written yet, or caught mid-write


def _small_gan(seed=1, dropout=0.3, loss="non_saturating"):
    keras.utils.set_random_seed(0)
    generator = build_generator(16, base_filters=8)
    discriminator = build_discriminator(base_filters=8, dropout=dropout)
    gan = GAN(generator, discriminator, seed=seed)
    gan.compile(loss=loss)
    return gan


def _images(n=64, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, 28, 28, 1)).astype("float32")


def test_killed_train_resumes_and_ends_with_every_epoch_and_frame(tmp_path):
    out = tmp_path / "run"
    args = TRAIN_ARGS + ["--epochs", "30", "--out", str(out)]
    process = subprocess.Popen([sys.executable, "-m", "gan_keras", *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while _finished_epochs(out / "backup") < 3:
        assert process.poll() is None, "train ended before it could be killed: " + process.stderr.read()[-2000:]
        assert time.monotonic() < deadline, "no backup after 300 s"
        time.sleep(0.05)
    process.kill()  # SIGKILL: no callback, no clean-up runs
    process.communicate()
    finished = _finished_epochs(out / "backup")  # read again: the process may have finished one more
    assert 3 <= finished < 30
    assert not (out / "training.gif").exists() and not (out / "generator.keras").exists()
    kept = {path.name: _digest(path) for path in (out / "samples").glob("*.png") if int(path.stem[6:]) <= finished}
    assert len(kept) == finished

    result = run_cli(*args)  # the very same command

    assert result.returncode == 0, result.stderr[-3000:]
    assert f"resuming the interrupted run in {out} after epoch {finished}" in result.stdout
    record = json.loads((out / "history.json").read_text())
    assert record["epochs_run"] == 30 and record["resumed_after_epochs"] == [finished]
    assert all(len(values) == 30 for values in record["history"].values())
    frames = sorted(path.name for path in (out / "samples").glob("*.png"))
    assert frames == [f"epoch_{epoch:03d}.png" for epoch in range(1, 31)]
    # The interrupted run's grids were kept as they were, not redone.
    assert {name: _digest(out / "samples" / name) for name in kept} == kept
    assert iio.imread(out / "training.gif", index=None).shape[0] == 30
    assert not (out / "backup").exists()


def test_ctrl_c_keeps_the_backup_and_says_how_to_resume(tmp_path):
    out = tmp_path / "run"
    # A CI job started in the background inherits SIGINT as *ignored*, and
    # Python then never raises KeyboardInterrupt: give the child the default.
    process = subprocess.Popen([sys.executable, "-m", "gan_keras", *TRAIN_ARGS, "--epochs", "30", "--out", str(out)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 300
    while _finished_epochs(out / "backup") < 1:
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130
    assert stderr.strip().endswith("interrupted; run the same command again to resume after the last finished epoch")
    assert _finished_epochs(out / "backup") >= 1 and (out / "backup" / "progress.json").exists()


def test_resuming_with_other_settings_is_refused_and_changes_nothing(tmp_path):
    out = tmp_path / "run"
    backup = out / "backup"
    backup.mkdir(parents=True)
    settings = dataclasses.asdict(TrainConfig(source="bundled", max_images=256, batch_size=64, base_filters=8,
                                              latent_dim=16, evaluate_every=0, seed=3, epochs=2))
    progress = {"settings": settings, "epoch_logs": [], "epoch_seconds": [], "resumed_at": []}
    (backup / "progress.json").write_text(json.dumps(progress))
    before = {path.name: _digest(path) for path in backup.iterdir()}

    result = run_cli(*TRAIN_ARGS, "--epochs", "2", "--loss", "hinge", "--out", str(out))

    assert result.returncode == 2
    assert "interrupted run in this folder used other settings" in result.stderr
    assert "(loss: 'non_saturating' -> 'hinge')" in result.stderr
    assert result.stderr.strip().count("\n") == 0
    assert {path.name: _digest(path) for path in backup.iterdir()} == before
    assert sorted(path.name for path in out.iterdir()) == ["backup"]


def test_backup_restores_optimizers_and_every_seed_generator(tmp_path):
    gan = _small_gan()
    images = _images()
    gan.fit(images, batch_size=32, epochs=1, verbose=0, shuffle=False)
    gan.save_weights(tmp_path / "state.weights.h5")
    restored = _small_gan()
    fresh_states = [v.numpy().copy() for v in restored.random_state_variables()]
    restored.load_weights(tmp_path / "state.weights.h5")

    # The GAN's noise and the discriminator's two dropout layers.
    assert len(gan.random_state_variables()) == 3
    for saved, loaded, fresh in zip(gan.random_state_variables(), restored.random_state_variables(), fresh_states):
        np.testing.assert_array_equal(saved.numpy(), loaded.numpy())
        assert not np.array_equal(saved.numpy(), fresh)
    assert int(restored.g_optimizer.iterations.numpy()) == int(gan.g_optimizer.iterations.numpy()) == 2
    # Continuing both gives the same weights: nothing random was replayed.
    gan.fit(images, batch_size=32, epochs=1, verbose=0, shuffle=False)
    restored.fit(images, batch_size=32, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(gan.get_weights(), restored.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_mixed_precision_scales_both_losses_and_keeps_logits_float32():
    with precision_policy("mixed_float16"):
        gan = _small_gan()
    assert keras.mixed_precision.dtype_policy().name == "float32"  # restored afterwards
    assert isinstance(gan.g_optimizer, keras.optimizers.LossScaleOptimizer)
    assert isinstance(gan.d_optimizer, keras.optimizers.LossScaleOptimizer)
    assert gan.generator.layers[1].compute_dtype == "float16"
    assert gan.discriminator.output.dtype == "float32" and gan.generator.output.dtype == "float32"
    before = [w.numpy().copy() for w in gan.generator.trainable_weights + gan.discriminator.trainable_weights]
    logs = gan.fit(_images(), batch_size=32, epochs=1, verbose=0).history
    after = [w.numpy() for w in gan.generator.trainable_weights + gan.discriminator.trainable_weights]
    assert all(np.isfinite(value[0]) for value in logs.values())
    assert all(w.dtype == np.float32 and np.isfinite(w).all() for w in after)
    assert sum(not np.allclose(a, b) for a, b in zip(before, after)) > len(after) // 2


def test_loss_scaling_does_not_change_the_float32_update():
    images = _images(32)
    plain = _small_gan(dropout=0.0)
    scaled = _small_gan(dropout=0.0)
    scaled.compile(
        g_optimizer=keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(2e-4, beta_1=0.5), initial_scale=1024.0),
        d_optimizer=keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(2e-4, beta_1=0.5), initial_scale=1024.0),
    )
    initial = plain.get_weights()
    for gan in (plain, scaled):
        gan.fit(images, batch_size=32, epochs=1, verbose=0)
    moved = max(float(np.abs(a - b).max()) for a, b in zip(initial, plain.get_weights()))
    assert moved > 1e-4
    for a, b in zip(plain.get_weights(), scaled.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_vae_under_mixed_precision_trains():
    keras.utils.set_random_seed(0)
    with precision_policy("mixed_float16"):
        vae = VAE(build_encoder(4, base_filters=8), build_decoder(4, base_filters=8), seed=0)
        vae.compile()
    assert isinstance(vae.optimizer, keras.optimizers.LossScaleOptimizer)
    losses = vae.fit(_images(64), batch_size=32, epochs=3, verbose=0).history["loss"]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]


MIRRORED_SCRIPT = textwrap.dedent(
    """
    import os, sys
    os.environ["KERAS_BACKEND"] = "tensorflow"
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras, numpy as np
    from gan_keras import GAN, build_discriminator, build_generator

    loss = sys.argv[1]
    def make():
        keras.utils.set_random_seed(0)
        gan = GAN(build_generator(16, base_filters=8), build_discriminator(base_filters=8, dropout=0.0), seed=1)
        gan.compile(loss=loss, d_steps=2)
        return gan

    images = np.random.default_rng(0).uniform(-1, 1, (16, 28, 28, 1)).astype("float32")
    initial = make().get_weights()
    single = make()
    single.fit(images, batch_size=16, epochs=1, verbose=0, shuffle=False)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        mirrored = make()
    synchronized = all(layer.synchronized for layer in mirrored.generator.layers if "batch_norm" in layer.name)
    mirrored.fit(tf.data.Dataset.from_tensor_slices(images).batch(16), epochs=1, verbose=0)
    # The global batch [1, 2, 3, 6] split over the two replicas: the summed
    # per-replica results must be its mean, 3 (a per-replica mean would sum to 6).
    from gan_keras.losses import global_batch_mean
    halves = strategy.experimental_distribute_values_from_function(
        lambda context: tf.constant([[1.0, 2.0], [3.0, 6.0]][context.replica_id_in_sync_group]))
    global_mean = strategy.reduce("SUM", strategy.run(global_batch_mean, args=(halves,)), axis=None)
    print("RESULT", strategy.num_replicas_in_sync, synchronized, float(global_mean),
          max(float(np.abs(a - b).max()) for a, b in zip(single.get_weights(), mirrored.get_weights())),
          max(float(np.abs(a - b).max()) for a, b in zip(single.get_weights(), initial)))
    """
)


@pytest.mark.parametrize("loss", ["non_saturating", "wgan_gp"])
def test_mirrored_step_on_two_devices_equals_the_single_device_step(tmp_path, loss):
    # A fresh interpreter: logical devices must be set before TensorFlow starts.
    script = tmp_path / "mirrored.py"
    script.write_text(MIRRORED_SCRIPT)
    result = subprocess.run([sys.executable, str(script), loss], capture_output=True, text=True, timeout=300,
                            cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    replicas, synchronized, global_mean, difference, moved = result.stdout.split("RESULT")[1].split()
    assert int(replicas) == 2 and synchronized == "True"
    assert float(global_mean) == 3.0  # losses are averaged over the global batch
    assert float(moved) > 1e-3  # the step did change the weights...
    assert float(difference) < 1e-5  # ...identically on one device and on two


def test_train_data_parallel_with_mixed_precision_on_tensorflow(tmp_path):
    from gan_keras.training import train

    config = TrainConfig(source="bundled", max_images=128, epochs=1, base_filters=8, latent_dim=16,
                         evaluate_every=0, distribution="data_parallel", mixed_precision=True)
    result = train(config, tmp_path / "run", verbose=0)
    assert isinstance(result.model.d_optimizer, keras.optimizers.LossScaleOptimizer)
    assert result.model.generator.layers[1].compute_dtype == "float16"
    saved = json.loads((tmp_path / "run" / "history.json").read_text())["config"]
    assert saved["distribution"] == "data_parallel" and saved["mixed_precision"] is True
    assert result.images_per_epoch == 128
    assert result.best_images_per_second == pytest.approx(128 / result.history["epoch_seconds"][0])
    images = result.model.generate(4, seed=0)
    assert images.dtype == np.float32 and np.abs(images).max() <= 1.0


def test_backup_trims_history_written_after_the_last_saved_weights(tmp_path):
    from gan_keras.callbacks import TrainingBackup

    # Killed between writing epoch 4's history and epoch 4's weights.
    backup = tmp_path / "backup"
    backup.mkdir()
    (backup / "epoch_00003.weights.h5").write_bytes(b"")  # only read when fit starts
    (backup / "training_metadata.json").write_text(json.dumps({"epoch": 3, "weights": "epoch_00003.weights.h5"}))
    logs = [{"d_loss": 4.0}, {"d_loss": 3.0, "eval_epoch": 2.0, "eval_fid": 50.0}, {"d_loss": 2.0}, {"d_loss": 1.0}]
    progress = {"settings": {"seed": 1}, "epoch_logs": logs, "epoch_seconds": [1.0, 2.0, 3.0, 4.0], "resumed_at": []}
    (backup / "progress.json").write_text(json.dumps(progress))

    resumed = TrainingBackup(backup, settings={"seed": 1})

    assert resumed.start_epoch == 3
    # A key logged only on some epochs keeps only those epochs' values.
    assert resumed.history == {"d_loss": [4.0, 3.0, 2.0], "eval_epoch": [2.0], "eval_fid": [50.0]}
    assert resumed.seconds_before == 3.0 and resumed.resumed_at == [3]


def test_train_step_compiles_with_xla_as_keras_does_on_a_gpu():
    # Keras turns jit_compile on by itself on a GPU; this machine has none,
    # so XLA is asked for explicitly (it is slower on a CPU).
    keras.utils.set_random_seed(0)
    gan = GAN(build_generator(16, base_filters=8), build_discriminator(base_filters=8), seed=1)
    gan.compile(loss="wgan_gp", d_steps=2, jit_compile=True)
    before = [w.copy() for w in gan.get_weights()]
    history = gan.fit(_images(64), batch_size=32, epochs=2, verbose=0).history
    assert gan.jit_compile is True
    assert np.isfinite(history["d_loss"]).all() and np.isfinite(history["g_loss"]).all()
    changed = [not np.allclose(a, b) for a, b in zip(before, gan.get_weights())]
    assert sum(changed) > len(changed) // 2


def test_resume_survives_a_kill_while_the_weights_were_being_written(tmp_path):
    from gan_keras.training import train

    config = TrainConfig(source="bundled", max_images=128, epochs=4, base_filters=8, latent_dim=16,
                         evaluate_every=0, seed=5)
    out = tmp_path / "run"
    with pytest.raises(Interrupt):
        train(config, out, verbose=0, extra_callbacks=[InterruptAt(2)])
    backup = out / "backup"
    # As if killed while writing epoch 3's weights: half a file under its
    # temporary name, the metadata still naming epoch 2's complete weights.
    weights = (backup / "epoch_00002.weights.h5").read_bytes()
    half_written = backup / ".tmp-epoch_00003.weights.h5"
    half_written.write_bytes(weights[: len(weights) // 2])
    assert _finished_epochs(backup) == 2

    result = train(config, out, verbose=0)

    record = json.loads((out / "history.json").read_text())
    assert record["resumed_after_epochs"] == [2] and result.epochs_run == 4
    assert all(len(values) == 4 for values in record["history"].values())
    assert sorted(path.name for path in (out / "samples").glob("*.png")) == [f"epoch_{e:03d}.png" for e in range(1, 5)]


def test_time_budget_counts_the_time_before_an_interruption(tmp_path):
    from gan_keras.callbacks import TimeBudget, TrainingBackup
    from gan_keras.training.run import _callbacks

    backup = tmp_path / "backup"
    backup.mkdir()
    (backup / "epoch_00002.weights.h5").write_bytes(b"")  # only read when fit starts
    (backup / "training_metadata.json").write_text(json.dumps({"epoch": 2, "weights": "epoch_00002.weights.h5"}))
    progress = {"settings": {}, "epoch_logs": [{"d_loss": 1.0}, {"d_loss": 0.9}], "epoch_seconds": [40.0, 100.0],
                "resumed_at": []}
    (backup / "progress.json").write_text(json.dumps(progress))
    config = TrainConfig(max_seconds=150.0, evaluate_every=0)

    callbacks = _callbacks(config, tmp_path, TrainingBackup(backup, settings={}), None)

    budgets = [callback for callback in callbacks if isinstance(callback, TimeBudget)]
    assert [budget.max_seconds for budget in budgets] == [50.0]
    assert isinstance(callbacks[-1], TrainingBackup)  # last: an epoch counts once its outputs exist
