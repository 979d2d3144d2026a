"""End-to-end: the `train` and `sample` commands in a fresh interpreter."""

import hashlib
import json

import imageio.v3 as iio
import numpy as np
import pytest

from conftest import run_cli


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    result = run_cli(
        "train", "--source", "bundled", "--max-images", "256", "--batch-size", "64",
        "--epochs", "2", "--seed", "1", "--model", "dcgan", "--beta-1", "0.5", "--dropout", "0.3", "--spatial-dropout",
        "--d-learning-rate", "4e-4", "--ema", "0.99", "--anneal", "0.5", "--out", str(out),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return out, result


def test_train_writes_every_output(trained_run):
    out, result = trained_run
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["epoch_001.png", "epoch_002.png"]
    assert iio.imread(out / "training.gif", index=None).shape[0] == 2
    record = json.loads((out / "history.json").read_text())
    assert record["epochs_run"] == 2 and len(record["history"]["g_loss"]) == 2
    assert record["config"]["model"] == "dcgan" and record["config"]["batch_size"] == 64
    # Every recipe flag reached the run.
    flags = ("beta_1", "dropout", "spatial_dropout", "d_learning_rate", "ema", "anneal")
    assert {key: record["config"][key] for key in flags} == {
        "beta_1": 0.5, "dropout": 0.3, "spatial_dropout": True, "d_learning_rate": 4e-4, "ema": 0.99, "anneal": 0.5}
    # The anneal ran over the 2 epochs: full rate in the first, down to 0 at the end of the second.
    assert record["history"]["learning_rate_factor"] == [1.0, 0.0]
    assert record["images_per_second"] > 0
    assert all(0 < seconds < record["seconds"] for seconds in record["history"]["epoch_seconds"])
    assert (out / "losses.png").stat().st_size > 0 and (out / "generator.keras").stat().st_size > 0
    assert "trained 2 epoch(s)" in result.stdout


def test_train_refuses_to_clobber_an_earlier_run(trained_run):
    out, _ = trained_run
    before = {p.name: _digest(p) for p in out.iterdir() if p.is_file()}
    result = run_cli("train", "--source", "bundled", "--max-images", "128", "--epochs", "1", "--out", str(out))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "already holds results of an earlier run" in result.stderr and "--overwrite" in result.stderr
    assert {p.name: _digest(p) for p in out.iterdir() if p.is_file()} == before


def test_sample_writes_png_and_npy(trained_run, tmp_path):
    out, _ = trained_run
    result = run_cli("sample", "--generator", str(out / "generator.keras"), "--n", "6", "--out", str(tmp_path / "s.npy"))
    assert result.returncode == 0, result.stderr[-2000:]
    images = np.load(tmp_path / "s.npy")
    assert images.shape == (6, 28, 28, 1) and images.min() >= -1 and images.max() <= 1
    result = run_cli("sample", "--generator", str(out / "generator.keras"), "--n", "9", "--out", str(tmp_path / "s.png"))
    assert result.returncode == 0
    assert iio.imread(tmp_path / "s.png").ndim == 3
    # An existing file is not replaced without --overwrite.
    before = _digest(tmp_path / "s.png")
    result = run_cli("sample", "--generator", str(out / "generator.keras"), "--out", str(tmp_path / "s.png"))
    assert result.returncode == 2 and "already exists" in result.stderr
    assert _digest(tmp_path / "s.png") == before


def test_max_seconds_stops_early_and_still_writes_everything(tmp_path):
    out = tmp_path / "budget"
    result = run_cli(
        "train", "--source", "bundled", "--model", "mlp", "--max-images", "128", "--batch-size", "64",
        "--epochs", "500", "--max-seconds", "0", "--label-smoothing", "0.1", "--out", str(out),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    record = json.loads((out / "history.json").read_text())
    # A budget of 0 means what TrainConfig(max_seconds=0) means: stop after the first epoch.
    assert record["epochs_run"] == 1
    assert record["config"]["max_seconds"] == 0 and record["config"]["label_smoothing"] == 0.1
    # Speed counts training steps only, not the grid, evaluation and saving around them.
    assert record["training_seconds"] == pytest.approx(sum(record["history"]["epoch_seconds"]), abs=0.01)
    assert record["training_seconds"] < record["seconds"]
    assert iio.imread(out / "training.gif", index=None).shape[0] == 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--out", "x", "--epochs", "0"], "--epochs: expected a whole number >= 1, got 0"),
        (["train", "--out", "x", "--batch-size", "many"], "--batch-size: expected a whole number, got 'many'"),
        (["train", "--out", "x", "--model", "gpt"], "--model: invalid choice: 'gpt'"),
        (["train"], "the following arguments are required: --out"),
        (["sample", "--generator", "missing.keras", "--out", "a.png"], "`generator`: no file missing.keras"),
        (["sample", "--generator", "g.keras", "--out", "a.jpg"], "`out` must end in .png or .npy"),
        (["fly"], "invalid choice: 'fly'"),
    ],
)
def test_bad_input_is_one_line_and_a_non_zero_exit(tmp_path, args, message):
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert not (tmp_path / "x").exists()  # nothing was created for a rejected command


def test_corrupt_generator_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "generator.keras"
    bad.write_bytes(b"this is not a zip archive")
    result = run_cli("sample", "--generator", str(bad), "--out", str(tmp_path / "a.png"))
    assert result.returncode == 2
    assert "could not load" in result.stderr and result.stderr.strip().count("\n") == 0


def test_evaluate_prints_a_table_and_json(trained_run):
    import json as json_module

    out, _ = trained_run
    table = run_cli("evaluate", "--generator", str(out / "generator.keras"), "--n", "200")
    assert table.returncode == 0, table.stderr[-2000:]
    assert "classes_covered" in table.stdout and "real data" in table.stdout
    as_json = run_cli("evaluate", "--generator", str(out / "generator.keras"), "--n", "200", "--json")
    result = json_module.loads(as_json.stdout)
    assert result["n"] == 200
    # Two epochs on 256 digits are far from real data; the floor is real data.
    assert result["samples"]["fid"] > result["real_floor"]["fid"]
    too_many = run_cli("evaluate", "--generator", str(out / "generator.keras"), "--n", "3000")
    assert too_many.returncode == 2 and "at most 2500" in too_many.stderr


def test_history_records_the_evaluation(trained_run):
    out, result = trained_run
    record = json.loads((out / "history.json").read_text())
    assert record["history"]["eval_epoch"] == [1]  # evaluated after the first epoch; every 5 after that
    assert len(record["history"]["eval_fid"]) == 1
    assert record["evaluation"]["n"] == 2000 and record["evaluation"]["real_floor"]["classes_covered"] == 10
    assert "classifier FID" in result.stdout


@pytest.mark.parametrize("model, extra", [("cgan", []), ("vae", []), ("dcgan", ["--loss", "wgan_gp"])])
def test_train_other_models_end_to_end(tmp_path, model, extra):
    out = tmp_path / model
    result = run_cli(
        "train", "--source", "bundled", "--model", model, *extra, "--max-images", "128", "--batch-size", "32",
        "--epochs", "1", "--evaluate-every", "0", "--out", str(out),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads((out / "history.json").read_text())
    expected_key = "kl_loss" if model == "vae" else "d_loss"
    assert expected_key in record["history"]
    if "wgan_gp" in extra:
        assert record["config"]["loss"] == "wgan_gp"
    labels = ["--labels", "3"] if model == "cgan" else []
    sample = run_cli("sample", "--generator", str(out / "generator.keras"), "--n", "4", *labels, "--out", str(tmp_path / "s.npy"))
    assert sample.returncode == 0, sample.stderr[-2000:]
    assert np.load(tmp_path / "s.npy").shape == (4, 28, 28, 1)


def test_cli_choices_match_the_library():
    # TrainConfig keeps its own lists (the CLI checks arguments before Keras loads): they must match.
    from gan_keras.augment import AUGMENTATIONS
    from gan_keras.losses import LOSSES
    from gan_keras.training import config
    from gan_keras.training.distribute import DISTRIBUTIONS

    assert set(config.MODELS) <= set(config.RECIPES)
    assert set(config.LOSSES) == set(LOSSES)
    assert set(config.DISTRIBUTIONS) == set(DISTRIBUTIONS)
    assert set(config.AUGMENTATIONS) == set(AUGMENTATIONS)
