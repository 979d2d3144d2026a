"""Kill a tiny `train` run at every write point of its backup, on one Keras
backend, and resume it; run in a fresh interpreter by tests/test_kill_resume.py
(KERAS_BACKEND is fixed once Keras is imported).

    python tests/fault_matrix.py BACKEND OUT_DIR [--block-tensorflow] [--all] [--in-process]

prints one line ``RESULT {json}``: the uninterrupted run's write points and,
for each one killed at, what the rerun after the kill ended with. The tests
make the assertions. A kill leaves only what is on disk: the uninterrupted
run copies its output folder at every write point, damaged as a kill there
leaves it (`interruption.WriteFaults`), and each copy is rerun; with
--in-process, a second run is killed there instead (by an exception no code
catches). Without --all, a kill lands on one point of each kind (the last:
epoch 2's writes, which also replace epoch 1's backup, and the final
removal), which keeps the test short; --all kills at every point.
"""

import json
import re
import shutil
import sys
import time
from pathlib import Path

BACKEND, OUT_DIR = sys.argv[1], Path(sys.argv[2])
sys.path.insert(0, str(Path(__file__).parent))
from backend_checks_env import prepare_backend  # noqa: E402

prepare_backend(BACKEND, "--block-tensorflow" in sys.argv)

import numpy as np  # noqa: E402

if BACKEND == "jax":
    import jax

    # Each run builds a new model, whose train step XLA would compile again
    # (~2 s): the same program, so it is compiled once and read back after.
    jax.config.update("jax_compilation_cache_dir", str(OUT_DIR / "jax_cache"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
elif BACKEND == "torch":
    import torch

    torch.set_num_threads(1)  # networks of 16 units: a second thread only waits

import gan_keras.training.run  # noqa: E402
from gan_keras.training import TrainConfig, train  # noqa: E402
from interruption import Killed, WriteFaults  # noqa: E402

# 2 epochs of 2 steps on 16 digits: every kind of backup write happens, and
# epoch 2's backup replaces epoch 1's. One grid (sample_every=2) per run.
CONFIG = TrainConfig(source="bundled", model="mlp", max_images=16, batch_size=8, epochs=2, evaluate_every=0,
                     latent_dim=8, seed=0, sample_every=2)
# The backup writes whatever the model holds: the smallest MLPs that train
# (one hidden layer of 16 units) keep the 14 runs per backend short.
_build_generator, _build_discriminator = gan_keras.training.run.build_generator, gan_keras.training.run.build_discriminator
gan_keras.training.run.build_generator = lambda *args, **kwargs: _build_generator(*args, **kwargs, hidden_units=(16,))
gan_keras.training.run.build_discriminator = lambda *args, **kwargs: _build_discriminator(*args, **kwargs,
                                                                                     hidden_units=(16,))
# losses.png is no part of the backup, and drawing it (matplotlib) costs more
# than training here: an empty file stands for it.
gan_keras.training.run.plot_history = lambda history, path: Path(path).write_bytes(b"")


def backup_folders(out):
    return [out / "backup", out / "backup.removed"]


def last_of_kind(events, event):
    """The index of the last event like `event`, epoch numbers aside."""
    kind = re.sub(r"\d+", "N", event)
    return max(index for index, other in enumerate(events) if re.sub(r"\d+", "N", other) == kind)


def outcome(out, reference):
    """How the run in `out` compares with the uninterrupted one."""
    record = json.loads((out / "history.json").read_text())
    history = {key: values for key, values in record["history"].items() if key != "epoch_seconds"}
    generator = __import__("keras").models.load_model(out / "generator.keras", compile=False)
    return {
        "epochs_run": record["epochs_run"],
        "resumed_after": record["resumed_after_epochs"],
        "history_equal": history == reference["history"],
        "history_lengths": sorted({len(values) for values in record["history"].values()}),
        "max_difference": max(float(np.max(np.abs(a - b))) for a, b in zip(generator.get_weights(),
                                                                           reference["weights"])),
        "backup_left": (out / "backup").exists() or (out / "backup.removed").exists(),
    }


def main():
    started = time.perf_counter()
    straight = OUT_DIR / "straight"
    in_process = "--in-process" in sys.argv

    def snapshot(point, damage):
        # What a kill at this point leaves on disk: the output folder as it
        # is, damaged as the kill would leave it (see `WriteFaults`).
        copy = OUT_DIR / f"killed_{point:02d}"
        shutil.copytree(straight, copy)
        if damage is not None:
            damage(lambda path: copy / Path(path).resolve().relative_to(straight.resolve()))

    with WriteFaults(backup_folders(straight), snapshot=None if in_process else snapshot) as counter:
        train(CONFIG, straight, verbose=0)
    reference = {"history": {key: values for key, values in
                             json.loads((straight / "history.json").read_text())["history"].items()
                             if key != "epoch_seconds"},
                 "weights": __import__("keras").models.load_model(straight / "generator.keras",
                                                                  compile=False).get_weights()}
    results = []
    for point, event in enumerate(counter.events):
        if "--all" not in sys.argv and point != last_of_kind(counter.events, event):
            continue
        out = OUT_DIR / f"killed_{point:02d}"
        if in_process:
            # Kill a second run there instead (slower; the same outcome).
            try:
                with WriteFaults(backup_folders(out), kill_at=point):
                    train(CONFIG, out, verbose=0)
            except Killed:
                pass
            else:
                raise AssertionError(f"no kill at write point {point} ({event})")
        try:
            train(CONFIG, out, verbose=0)  # the very same call
            rerun = "finished"
        except FileExistsError as error:
            # Killed while a finished run's backup was deleted: the run is
            # complete, and a rerun says so.
            rerun = "refused: " + str(error).split(";")[0]
        results.append({"point": point, "event": event, "rerun": rerun, **outcome(out, reference)})
    print("RESULT " + json.dumps({"events": counter.events, "results": results,
                                  "seconds": round(time.perf_counter() - started, 1)}))


if __name__ == "__main__":
    main()
