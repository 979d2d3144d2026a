"""The bad-input corpus (issue 7): wrong data given to `fit`, wrong settings,
and wrong CLI calls next to a finished run, which must survive untouched.
(Builders and loaders have their own corpora in test_builders/test_data.)"""

import hashlib

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import run_cli
from gan_keras import GAN, VAE, build_discriminator, build_generator
from gan_keras.training.distribute import get_distribution
from gan_keras.training.mixed_precision import precision_policy
from gan_keras.training import TrainConfig
from gan_keras.vae import build_decoder, build_encoder


@pytest.fixture(scope="module")
def gan():
    keras.utils.set_random_seed(0)
    model = GAN(build_generator(16, base_filters=8), build_discriminator(base_filters=8), seed=0)
    model.compile()
    return model


def _uniform(shape, low=-1.0, high=1.0, dtype="float32"):
    return np.random.default_rng(0).uniform(low, high, shape).astype(dtype)


@pytest.mark.parametrize(
    "data, error, message",
    [
        (_uniform((8, 28, 28)), ValueError, r"must have shape \[batch, 28, 28, 1\] .* got \[8, 28, 28\]"),
        (_uniform((8, 32, 32, 3)), ValueError, r"got \[8, 32, 32, 3\]"),
        (_uniform((8, 28, 28, 1), 0, 255).round().astype("uint8"), TypeError, "must be floating point, got dtype uint8"),
        (_uniform((8, 28, 28, 1), 0.0, 255.0), ValueError, r"scaled to \[-1, 1\] .* got values in \[0.*, 255\]"),
        ([[0.5] * 4], TypeError, "must be a NumPy array or a tf.data.Dataset, got list"),
        ("digits.npz", TypeError, "got str"),
    ],
    ids=["rank", "shape", "dtype", "range", "list", "path"],
)
def test_gan_fit_rejects_images_the_generator_could_not_make(gan, data, error, message):
    before = [w.copy() for w in gan.get_weights()]
    with pytest.raises(error, match=message):
        gan.fit(data, epochs=1, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, gan.get_weights()))


def test_gan_fit_checks_a_dataset_by_its_spec_and_first_batch(gan):
    flat = tf.data.Dataset.from_tensor_slices(_uniform((8, 784))).batch(4)
    with pytest.raises(ValueError, match=r"got \[None, 784\]"):
        gan.fit(flat, epochs=1, verbose=0)
    unscaled = tf.data.Dataset.from_tensor_slices(_uniform((8, 28, 28, 1), 0.0, 255.0)).batch(4)
    with pytest.raises(ValueError, match=r"scaled to \[-1, 1\]"):
        gan.fit(unscaled, epochs=1, verbose=0)


def test_fit_accepts_unbounded_data_for_a_generator_without_tanh():
    # A toy generator (no tanh) may learn points outside [-1, 1].
    keras.utils.set_random_seed(0)
    toy = GAN(build_generator(2, (2,), kind="mlp", hidden_units=(8,), output_activation=None),
              build_discriminator((2,), kind="mlp", hidden_units=(8,)), seed=0)
    toy.compile()
    history = toy.fit(_uniform((32, 2), 3.0, 5.0), batch_size=16, epochs=1, verbose=0).history
    assert np.isfinite(history["d_loss"][0])


def test_vae_fit_rejects_unscaled_images():
    vae = VAE(build_encoder(2, base_filters=8), build_decoder(2, base_filters=8))
    vae.compile()
    with pytest.raises(ValueError, match=r"scaled to \[-1, 1\]"):
        vae.fit(_uniform((8, 28, 28, 1), 0.0, 255.0), epochs=1, verbose=0)


@pytest.mark.parametrize(
    "settings, error, message",
    [
        ({"distribution": "tpu"}, ValueError, r"`distribution` must be one of \['none', 'data_parallel'\], got 'tpu'"),
        ({"mixed_precision": "yes"}, TypeError, "`mixed_precision` must be True or False, got 'yes'"),
        ({"label_smoothing": 0.9}, ValueError, "`label_smoothing`"),
        ({"learning_rate": 0.0}, ValueError, "`learning_rate` must be > 0"),
        ({"epochs": 2.5}, TypeError, "`epochs` must be an integer"),
        ({"ema": 1.0}, ValueError, r"`ema` must be in \[0, 1\) \(0 turns the average off\), got 1.0"),
        # None stands for "the recipe's value" only in a setting whose default is None.
        ({"model": None}, ValueError, "`model` must be one of .* got None"),
        ({"epochs": None}, TypeError, "`epochs` must be an integer"),
        ({"seed": None}, TypeError, "`seed` must be an integer"),
        ({"model": "vae", "ema": 0.99}, ValueError, "`ema` averages a GAN's generator"),
        ({"beta_1": 1.5}, ValueError, "`beta_1` must be >= 0 and <= 0.999, got 1.5"),
        ({"dropout": 0.95}, ValueError, "`dropout`"),
        ({"anneal": -0.5}, ValueError, "`anneal`"),
        ({"augment": "flip"}, ValueError, "`augment` must be one of"),
        ({"r1_weight": -1.0}, ValueError, "`r1_weight`"),
        ({"r1_every": 0}, ValueError, "`r1_every`"),
        ({"simultaneous": "yes"}, TypeError, "`simultaneous` must be True or False"),
        ({"minibatch_stddev": 1}, TypeError, "`minibatch_stddev` must be True or False"),
        ({"model": "vae", "augment": "translation"}, ValueError, "regularise a GAN's discriminator"),
        ({"d_learning_rate": 0}, ValueError, "`d_learning_rate` must be > 0"),
    ],
)
def test_train_config_names_the_bad_setting(settings, error, message):
    with pytest.raises(error, match=message):
        TrainConfig(**settings).validate()


def test_resolving_a_config_validates_it_first():
    # build_gan resolves without calling validate: a bad model is named, not a KeyError.
    with pytest.raises(ValueError, match="`model` must be one of .* got 'gan'"):
        TrainConfig(model="gan").resolved()


def test_unknown_distribution_and_precision_names():
    with pytest.raises(ValueError, match="`distribution` must be one of"):
        get_distribution("horovod")
    with pytest.raises(ValueError, match=r"`precision` must be one of .* got 'float8'"):
        with precision_policy("float8"):
            pass  # pragma: no cover
    assert keras.mixed_precision.dtype_policy().name == "float32"


# ------------------------------------------------------------------ the CLI
def _snapshot(folder):
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.fixture
def finished_run(tmp_path):
    """A folder that looks like a finished run (what a student must not lose)."""
    out = tmp_path / "run"
    (out / "samples").mkdir(parents=True)
    (out / "samples" / "epoch_001.png").write_bytes(b"\x89PNG a grid")
    (out / "generator.keras").write_bytes(b"not really a model")
    (out / "history.json").write_text("{}")
    (out / "grid.png").write_bytes(b"\x89PNG a sample grid")
    (out / "notes.txt").write_text("my notes")
    return out


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--out", "{out}"], "already holds results of an earlier run"),
        (["train", "--out", "{out}", "--overwrite", "--learning-rate", "0"], "--learning-rate: expected a number > 0, got 0"),
        (["train", "--out", "{out}", "--overwrite", "--seed", "-1"], "--seed: expected a whole number >= 0, got -1"),
        (["train", "--out", "{out}", "--overwrite", "--max-seconds", "soon"], "--max-seconds: expected a number, got 'soon'"),
        (["train", "--out", "{out}", "--overwrite", "--max-seconds", "-1"], "--max-seconds: expected a number >= 0, got -1"),
        (["train", "--out", "{out}", "--overwrite", "--label-smoothing", "0.7"], "`label_smoothing` must be >= 0 and <= 0.5, got 0.7"),
        (["train", "--out", "{out}", "--overwrite", "--distribution", "tpu"], "--distribution: invalid choice: 'tpu'"),
        (["train", "--out", "{out}", "--overwrite", "--sample-every", "0"], "--sample-every: expected a whole number >= 1"),
        (["train", "--out", "{out}/new", "--source", "idx", "--data-dir", "{out}/nowhere"], "`data_dir`: no file {out}/nowhere/train-images-idx3-ubyte.gz"),
        (["sample", "--generator", "{out}/generator.keras", "--out", "{out}/grid.png"], "`out` {out}/grid.png already exists"),
        (["sample", "--generator", "{out}/generator.keras", "--out", "{out}/new.png"], "could not load"),
        (["sample", "--generator", "{out}/missing.keras", "--out", "{out}/new.png"], "`generator`: no file"),
        (["sample", "--generator", "{out}/history.json", "--out", "{out}/new.png"], "must be a .keras file"),
        (["sample", "--generator", "{out}/generator.keras", "--out", "{out}/new.png", "--n", "0"], "--n: expected a whole number >= 1, got 0"),
        (["sample", "--generator", "{out}/generator.keras", "--out", "{out}/new.png", "--labels", "one"], "--labels: expected comma-separated"),
        (["evaluate", "--generator", "{out}/generator.keras", "--n", "5000"], "`n` must be at most 2500"),
    ],
    ids=["clobber", "learning-rate", "seed", "max-seconds", "negative-max-seconds", "label-smoothing", "distribution", "sample-every", "data-dir",
         "sample-exists", "corrupt-generator", "missing-generator", "not-keras", "n", "labels", "evaluate-n"],
)
def test_cli_rejects_bad_calls_and_leaves_earlier_outputs_alone(finished_run, args, message):
    before = _snapshot(finished_run.parent)
    out = str(finished_run)
    result = run_cli(*[arg.format(out=out) for arg in args])
    assert result.returncode == 2
    assert message.format(out=out) in result.stderr, result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert _snapshot(finished_run.parent) == before  # nothing changed, nothing added
    assert sorted(p.name for p in finished_run.parent.iterdir()) == ["run"]
