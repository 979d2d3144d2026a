"""Issue 30, part 2: a run killed at any moment resumes to exactly the
uninterrupted run. tests/fault_matrix.py runs a tiny `train` (in its own
interpreter, one per backend), keeps what a kill at each kind of write into
its backup folder leaves on disk, and reruns the same call on each; and one
real ``kill -9`` lands on a `train` process."""

import importlib.util
import json
import os
import random
import re
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from conftest import REPO_ROOT, run_cli

BACKENDS = ("tensorflow", "jax", "torch")


def fault_matrix(backend, out):
    module = "tensorflow" if backend == "tensorflow" else backend
    if importlib.util.find_spec(module) is None:
        if os.environ.get("GAN_KERAS_REQUIRE_BACKENDS") == "1":
            pytest.fail(f"{module} is not installed")
        pytest.skip(f"{module} is not installed (pip install -e '.[backends]')")
    command = [sys.executable, str(REPO_ROOT / "tests" / "fault_matrix.py"), backend, str(out)]
    if backend != "tensorflow":
        command.append("--block-tensorflow")
    completed = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=REPO_ROOT / "tests")
    assert completed.returncode == 0, completed.stderr[-4000:]
    line = next(line for line in completed.stdout.splitlines() if line.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_kill_at_any_backup_write_resumes_to_the_uninterrupted_run(tmp_path, backend):
    result = fault_matrix(backend, tmp_path)
    # "create backup/.tmp-progress.json" -> "create .tmp-progress"
    kinds = {re.sub(r"^(\S+) (?:\S*/)?(\.?[^./]+).*$", r"\1 \2", event) for event in result["events"]}
    # The writes a backup makes: each file whole or not at all, the metadata last.
    for kind in ("create .tmp-progress", "half .tmp-progress", "replace .tmp-progress",
                 "create .tmp-epoch_00002", "half .tmp-epoch_00002", "replace .tmp-epoch_00002",
                 "create .tmp-training_metadata", "half .tmp-training_metadata", "replace .tmp-training_metadata",
                 "unlink epoch_00001", "replace backup", "rmtree backup", "rmtree-half backup"):
        assert kind in kinds, (kind, sorted(kinds))
    assert len(result["results"]) >= 13
    for run in result["results"]:
        where = f"killed at {run['event']!r}: {run}"
        # Every epoch once, with the uninterrupted run's weights and logs.
        assert run["epochs_run"] == 2 and run["history_lengths"] == [2], where
        assert run["history_equal"] and run["max_difference"] == 0.0, where
        if run["event"].split()[1].startswith("backup.removed"):
            # Killed while a finished run's backup was deleted: the outputs
            # are complete, and a rerun says the run is finished.
            assert run["rerun"].startswith("refused: `out`") and "already holds results" in run["rerun"], where
            assert run["resumed_after"] == [], where
        else:
            assert run["rerun"] == "finished" and not run["backup_left"], where
            # Resumed, not started over (which would end the same): after
            # epoch 1 until epoch 2's metadata is in place, after epoch 2 from then on.
            committed = run["event"].startswith("unlink ") or run["event"] == "replace backup"
            assert run["resumed_after"] == ([2] if committed else [1]), where


def _finished_epochs(backup):
    try:
        return json.loads((backup / "training_metadata.json").read_text())["epoch"]
    except (OSError, ValueError, KeyError):
        return 0


def _generator_and_history(out):
    generator = keras.models.load_model(out / "generator.keras", compile=False)
    history = json.loads((out / "history.json").read_text())["history"]
    history.pop("epoch_seconds")  # wall time: the one thing that differs
    return generator.get_weights(), history


def test_a_real_kill_9_at_a_random_moment_resumes_to_the_uninterrupted_run(tmp_path):
    from gan_keras.training import TrainConfig, train

    # On this session's backend (the fault matrix above covers all three).
    env = {"KERAS_BACKEND": keras.backend.backend(), "GAN_KERAS_OFFLINE": "1"}
    args = ["train", "--source", "bundled", "--model", "mlp", "--max-images", "32", "--batch-size", "16",
            "--latent-dim", "8", "--epochs", "4", "--evaluate-every", "0", "--seed", "1"]
    # The uninterrupted run, in this process: the same settings as `args`.
    straight = tmp_path / "straight"
    train(TrainConfig(source="bundled", model="mlp", max_images=32, batch_size=16, latent_dim=8, epochs=4,
                      evaluate_every=0, seed=1), straight, verbose=0)

    killed = tmp_path / "killed"
    delay = random.uniform(0.0, 0.5)  # after the first backup: anywhere in the later epochs' writes
    process = subprocess.Popen([sys.executable, "-m", "gan_keras", *args, "--out", str(killed)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, **env})
    deadline = time.monotonic() + 300
    while _finished_epochs(killed / "backup") < 1 and process.poll() is None:
        assert time.monotonic() < deadline, "no backup after 300 s"
        time.sleep(0.01)
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.communicate()

    result = run_cli(*args, "--out", str(killed), env=env)  # the very same command

    finished_before = result.returncode == 0 and "resuming" not in result.stdout
    assert result.returncode == 0 or "already holds results" in result.stderr, (delay, result.stderr[-2000:])
    print(f"killed {delay:.3f} s after the first backup; rerun: {result.stdout.strip().splitlines()[:2]}")
    weights, history = _generator_and_history(killed)
    reference_weights, reference_history = _generator_and_history(straight)
    assert history == reference_history and all(len(values) == 4 for values in history.values()), delay
    for a, b in zip(weights, reference_weights):
        np.testing.assert_array_equal(a, b, err_msg=f"killed {delay:.3f} s after the first backup")
    assert not (killed / "backup").exists() or finished_before
