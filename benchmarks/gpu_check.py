"""One prepared GPU check: speed, memory and a short training run on every installed Keras backend.

    python benchmarks/gpu_check.py              # the full run: under 8 minutes on one modern GPU
    python benchmarks/gpu_check.py --smoke      # the same code paths, tiny, on a CPU (run by the tests)

It checks its environment first and says in one line what is missing. Then,
for each backend installed among JAX, PyTorch and TensorFlow, every part in a
subprocess with a time budget (a part that overruns is stopped, and the table
says so):

- speed: the default model (the conditional DCGAN) and the TF tutorial's
  DCGAN, float32 and mixed precision, at batch 64, 256 and 1024, trained by
  `GAN.fit`: images/s, seconds per 60,000-image epoch, what the first epoch
  costs on top of a steady one (tracing and compiling), milliseconds per step,
  peak device memory, and what bounds the step: how a step's time grows with
  the batch (time ~ batch^s; s near 0: fixed per-step cost, Python and
  dispatch, is the limit; s near 1: the device is); for the tutorial's model
  in float32 also the minimal hand-written Algorithm-1 step on the same
  backend (benchmarks/throughput.py), timed in the same process: the
  ``fit / hand-written`` ratio is the library's own cost;
- training: the default `train` for ``--train-seconds`` on a 60,000-image
  epoch (the bundled sample tiled), scored by the shipped evaluator.

Writes gpu_check.json and gpu_check.md into ``--out`` and prints the tables.
docs/gpu.md says how to carry Keras to a machine without it and what to expect.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BACKENDS = ("jax", "torch", "tensorflow")
MODELS = ("default", "tutorial")
PRECISIONS = ("float32", "mixed")
# What the package needs besides a backend (import names); Keras' own needs come with `import keras`.
REQUIRED = ("keras", "numpy", "scipy", "imageio", "matplotlib", "PIL")
# The published anchor: a small TensorFlow MNIST GAN on one A100 with XLA, batch 2048.
ANCHOR_IMAGES_PER_SECOND = 50_000
EPOCH_IMAGES = 60_000

FULL = {"batches": (64, 256, 1024), "timed_images": 15_360, "train_seconds": 60.0, "speed_budget": 75.0,
        "train_budget": 120.0, "budget": 470.0, "evaluated_images": 2000,
        "speed_parts": [(model, precision) for model in MODELS for precision in PRECISIONS]}
# The smoke run keeps every code path (both models, both precisions, the
# training part) but not every combination: compiling dominates on a CPU.
SMOKE = {"batches": (8,), "timed_images": 16, "train_seconds": 1.0, "speed_budget": 120.0,
         "train_budget": 120.0, "budget": 600.0, "evaluated_images": 200, "speed_parts": [("default", "mixed"), ("tutorial", "float32")]}


# ------------------------------------------------------------------ the parent
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny settings: the same code paths on a CPU")
    parser.add_argument("--out", type=Path, default=Path("gpu_check"), help="folder for gpu_check.json/.md")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated; those not installed are skipped")
    parser.add_argument("--train-seconds", type=float, default=None, help="the training part's budget (full: 60)")
    parser.add_argument("--budget", type=float, default=None, help="seconds for the whole check (full: 470)")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)  # BACKEND:PART[;PART...], see run_worker
    parser.add_argument("--result", type=Path, default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def missing_modules(names) -> list[str]:
    """The modules among `names` that this Python cannot import."""
    return [name for name in names if importlib.util.find_spec(name) is None]


def check_environment(backends: list[str]) -> tuple[list[str], str | None]:
    """The backends to measure, and a one-line message if something is missing."""
    sys.path.insert(0, str(HERE.parent))
    missing = missing_modules(REQUIRED + ("gan_keras",))
    installed = [backend for backend in backends if not missing_modules([backend])]
    if not installed:
        missing.append(f"a Keras backend (one of {', '.join(backends)})")
    if not missing:
        # Keras' own dependencies (optree, namex, ...) show up on import only.
        probe = subprocess.run([sys.executable, "-c", "import keras, gan_keras"], capture_output=True, text=True,
                               env=_worker_environment(installed[0]), cwd=HERE.parent)
        if probe.returncode != 0:
            lines = probe.stderr.strip().splitlines() or ["import keras failed"]
            missing.append(lines[-1])
    if missing:
        return installed, ("gpu_check: cannot run, missing: " + "; ".join(missing)
                           + " (carry them as wheels: docs/gpu.md, 'Measure a GPU')")
    return installed, None


def _worker_environment(backend: str) -> dict:
    environment = {**os.environ, "KERAS_BACKEND": backend, "GAN_KERAS_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
                   "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE.parent), os.environ.get("PYTHONPATH")]))}
    if backend == "jax":
        # JAX takes 75% of GPU memory up front by default: allocate as needed, so peaks are measurable.
        environment.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    if backend == "tensorflow":
        environment.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    return environment


def run_group(command: list[str], environment: dict, timeout: float, result_path: Path) -> dict:
    """Run one worker with a time limit; whatever it wrote before a stop is kept.

    Returns:
        ``{"parts": [...], "status": "ok" | "stopped" | "failed", "seconds", "error"}``.
    """
    start = time.perf_counter()
    status, error = "ok", None
    try:
        completed = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=timeout,
                                   cwd=HERE.parent)
        if completed.returncode != 0:
            status = "failed"
            lines = completed.stderr.strip().splitlines() or [f"exit status {completed.returncode}"]
            error = lines[-1][:300]
    except subprocess.TimeoutExpired:
        status = "stopped"
        error = f"stopped after {timeout:.0f} s, over its budget"
    parts = json.loads(result_path.read_text()) if result_path.is_file() else []
    return {"parts": parts, "status": status, "seconds": round(time.perf_counter() - start, 1), "error": error}


def plan(installed: list[str], settings: dict, smoke: bool) -> list[tuple[str, list[str], float]]:
    """The worker groups in order: ``(backend, parts, budget seconds)``.

    One backend after another (JAX first: the headline figure), its speed
    parts, then its training, so that a check cut short by its total budget
    still has whole backends. The smoke run keeps a backend's parts in one
    process (imports dominate on a CPU); the full run gives every part its
    own, so that memory peaks and crashes stay apart, and shares out the total
    budget: each backend's training part its own, the speed parts the rest.
    """
    speed = [f"speed:{model}:{precision}" for model, precision in settings["speed_parts"]]
    if smoke:
        return [(backend, speed + ["train"], settings["speed_budget"] + settings["train_budget"])
                for backend in installed]
    spare = settings["budget"] - settings["train_budget"] * len(installed)
    speed_budget = min(settings["speed_budget"], max(20.0, spare / (len(speed) * len(installed))))
    groups = []
    for backend in installed:
        groups += [(backend, [part], speed_budget) for part in speed]
        groups.append((backend, ["train"], settings["train_budget"]))
    return groups


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        return run_worker(args)
    settings = dict(SMOKE if args.smoke else FULL)
    settings["train_seconds"] = args.train_seconds if args.train_seconds is not None else settings["train_seconds"]
    settings["budget"] = args.budget if args.budget is not None else settings["budget"]
    installed, problem = check_environment([name.strip() for name in args.backends.split(",") if name.strip()])
    if problem:
        print(problem)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    deadline = time.perf_counter() + settings["budget"]
    report = {"smoke": args.smoke, "settings": settings, "groups": []}
    with tempfile.TemporaryDirectory() as scratch:
        for index, (backend, parts, budget) in enumerate(plan(installed, settings, args.smoke)):
            timeout = min(budget, deadline - time.perf_counter())
            if timeout < 5:
                report["groups"].append({"backend": backend, "requested": parts, "parts": [], "status": "skipped",
                                         "seconds": 0, "error": "not started: the whole check's budget was spent"})
                continue
            result_path = Path(scratch) / f"group_{index}.json"
            command = [sys.executable, str(Path(__file__).resolve()), "--worker", f"{backend}:{';'.join(parts)}",
                       "--result", str(result_path), "--out", str(args.out.resolve())]
            if args.smoke:
                command.append("--smoke")
            if args.train_seconds is not None:
                command += ["--train-seconds", str(args.train_seconds)]
            print(f"[{time.strftime('%H:%M:%S')}] {backend}: {', '.join(parts)} (budget {timeout:.0f} s)", flush=True)
            group = run_group(command, _worker_environment(backend), timeout, result_path)
            report["groups"].append({"backend": backend, "requested": parts, **group})
    add_bounds(report)
    (args.out / "gpu_check.json").write_text(json.dumps(report, indent=2))
    table = markdown(report)
    (args.out / "gpu_check.md").write_text(table)
    print(table)
    return 0 if all(group["status"] == "ok" for group in report["groups"]) else 1


# ------------------------------------------------------------------ the tables
def speed_rows(report: dict) -> list[dict]:
    return [part for group in report["groups"] for part in group["parts"] if part["part"] == "speed"]


def add_bounds(report: dict) -> None:
    """Name what bounds each step, from how its time grows with the batch
    (time ~ batch^s between neighbouring batch sizes of one model)."""
    series = {}
    for row in speed_rows(report):
        series.setdefault((row["backend"], row["model"], row["precision"]), []).append(row)
    for rows in series.values():
        rows.sort(key=lambda row: row["batch"])
        for index, row in enumerate(rows):
            if len(rows) < 2:
                row["bound"] = "?"
                continue
            low, high = (rows[index], rows[index + 1]) if index + 1 < len(rows) else (rows[index - 1], rows[index])
            exponent = math.log(high["ms_per_step"] / low["ms_per_step"]) / math.log(high["batch"] / low["batch"])
            row["scaling"] = round(exponent, 2)
            row["bound"] = "overhead" if exponent < 0.3 else "device" if exponent > 0.7 else "both"


def _mebibytes(value) -> str:
    return "n/a" if value is None else f"{value / 2**20:,.0f}"


def markdown(report: dict) -> str:
    devices = sorted({part.get("device", "?") for group in report["groups"] for part in group["parts"]})
    lines = [f"# gpu_check{' --smoke' if report['smoke'] else ''}", "", f"Devices: {', '.join(devices) or 'none'}", "",
             "| backend | model | precision | batch | images/s | s per 60k epoch | first epoch extra s | ms per step "
             "| peak MiB | bound (s) | fit / hand-written |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |"]
    for row in speed_rows(report):
        lines.append(f"| {row['backend']} | {row['model']} | {row['precision']} | {row['batch']} "
                     f"| {row['images_per_second']:,.0f} | {row['epoch_seconds']:.2f} | {row['first_epoch_extra']:.1f} "
                     f"| {row['ms_per_step']:.2f} | {_mebibytes(row['peak_bytes'])} "
                     f"| {row.get('bound', '?')} ({row.get('scaling', '?')}) | {row.get('ratio_to_handwritten', 'n/a')} |")
    lines += ["", "| backend | trained s | epochs | images per epoch | images/s | FID | classes | confident | precision "
              "| recall | requested digit |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for group in report["groups"]:
        for row in group["parts"]:
            if row["part"] == "train":
                lines.append(f"| {row['backend']} | {row['training_seconds']:.0f} | {row['epochs']} "
                             f"| {row['epoch_images']:,} | {row['images_per_second']:,.0f} | {row['fid']:.1f} | {row['classes_covered']} "
                             f"| {row['confident_fraction']:.2f} | {row['precision']:.2f} | {row['recall']:.2f} "
                             f"| {row['conditional_accuracy']:.2f} |")
    best = max(speed_rows(report), key=lambda row: row["images_per_second"], default=None)
    lines.append("")
    if best:
        lines.append(f"Fastest: {best['backend']}, {best['model']} model, {best['precision']}, batch {best['batch']}: "
                     f"{best['images_per_second']:,.0f} images/s, a 60,000-image epoch in {best['epoch_seconds']:.2f} s; "
                     f"{best['images_per_second'] / ANCHOR_IMAGES_PER_SECOND:.2f}x the published anchor "
                     f"(a TF MNIST GAN on one A100 with XLA, batch 2048: {ANCHOR_IMAGES_PER_SECOND:,} images/s).")
    for group in report["groups"]:
        if group["status"] != "ok":
            lines.append(f"- {group['backend']} {', '.join(group['requested'])}: {group['status']}: {group['error']}")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ the worker
def run_worker(args: argparse.Namespace) -> int:
    """Run ``BACKEND:PART;PART...`` in this process (KERAS_BACKEND is set by
    the parent), appending each part's rows to ``--result`` as they finish."""
    backend, parts = args.worker.split(":", 1)
    settings = dict(SMOKE if args.smoke else FULL)
    if args.train_seconds is not None:
        settings["train_seconds"] = args.train_seconds
    rows = []
    for part in parts.split(";"):
        kind, *options = part.split(":")
        if kind == "speed":
            model, precision = options
            for batch in settings["batches"]:
                rows.append(time_fit(backend, model, precision, batch, settings["timed_images"]))
                write_rows(args.result, rows)
        else:
            rows.append(short_training(backend, settings, args.out, args.smoke))
            write_rows(args.result, rows)
    return 0


def write_rows(path: Path, rows: list[dict]) -> None:
    """Replace `path` in one step, so that a worker stopped mid-write leaves the last whole file."""
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(rows))
    os.replace(partial, path)


def device_name(backend: str) -> str:
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        return f"{device.platform}: {device.device_kind} x{len(jax.devices())}"
    if backend == "torch":
        import torch

        return f"cuda: {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else "cpu"
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return f"gpu: {tf.config.experimental.get_device_details(gpus[0]).get('device_name', 'GPU')}" if gpus else "cpu"


def reset_peak_memory(backend: str) -> None:
    if backend == "torch":
        import torch

        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
    elif backend == "tensorflow":
        import tensorflow as tf

        if tf.config.list_physical_devices("GPU"):
            tf.config.experimental.reset_memory_stats("GPU:0")


def peak_memory(backend: str) -> int | None:
    """Peak device memory in bytes; None on a CPU. JAX's peak cannot be reset:
    batches run smallest first, so each row's peak is its own."""
    if backend == "jax":
        import jax

        stats = jax.devices()[0].memory_stats()
        return stats.get("peak_bytes_in_use") if stats else None
    if backend == "torch":
        import torch

        return torch.cuda.max_memory_allocated() if torch.cuda.is_available() else None
    import tensorflow as tf

    return tf.config.experimental.get_memory_info("GPU:0")["peak"] if tf.config.list_physical_devices("GPU") else None


def tiled_sample(count: int):
    """`count` bundled digits (and labels): the 5,000-digit sample repeated."""
    import numpy as np

    from gan_keras.data import load_images

    images, labels = load_images("mnist", source="bundled")
    repeats = -(-count // len(images))
    return np.concatenate([images] * repeats)[:count], np.concatenate([labels] * repeats)[:count]


def build_model(model: str, precision: str, batch: int):
    """The default model (`train`'s) or the TF tutorial's DCGAN in a `GAN`."""
    import keras

    from gan_keras import GAN
    from gan_keras.training.mixed_precision import precision_policy
    from gan_keras.training import TrainConfig, build_gan

    sys.path.insert(0, str(HERE))
    import baselines

    with precision_policy("mixed_float16" if precision == "mixed" else "float32"):
        if model == "default":
            return build_gan(TrainConfig(batch_size=batch, mixed_precision=precision == "mixed")), True
        gan = GAN(baselines.tutorial_dcgan_generator(), baselines.tutorial_dcgan_discriminator(), seed=0)
        rate = baselines.TUTORIAL_LEARNING_RATE
        gan.compile(keras.optimizers.Adam(rate), keras.optimizers.Adam(rate))
        return gan, False


def time_fit(backend: str, model: str, precision: str, batch: int, timed_images: int) -> dict:
    """Two epochs of `fit` on `timed_images` images: the first pays for
    tracing and compiling, the second is the steady speed."""
    import keras

    from gan_keras.data import make_dataset

    keras.utils.set_random_seed(0)
    reset_peak_memory(backend)
    gan, conditional = build_model(model, precision, batch)
    steps = max(2, timed_images // batch)
    images, labels = tiled_sample(steps * batch)
    dataset = make_dataset(images, labels if conditional else None, batch_size=batch, seed=0)
    timer = synced_epoch_timer()
    gan.fit(dataset, epochs=2, verbose=0, shuffle=False, callbacks=[timer])
    first, steady = timer.seconds
    images_per_second = steps * batch / steady
    row = {"part": "speed", "backend": backend, "device": device_name(backend), "model": model,
           "precision": precision, "batch": batch, "steps": steps, "images_per_second": round(images_per_second, 1),
           "epoch_seconds": round(EPOCH_IMAGES / images_per_second, 3),
           "first_epoch_extra": round(first - steady, 2), "ms_per_step": round(1000 * steady / steps, 3),
           "peak_bytes": peak_memory(backend)}
    if model == "tutorial" and precision == "float32":
        # The baseline in the same script: the same models and algorithm, hand-written.
        handwritten = handwritten_images_per_second(backend, images, batch)
        row["handwritten_images_per_second"] = round(handwritten, 1)
        row["ratio_to_handwritten"] = round(images_per_second / handwritten, 3)
    return row


def handwritten_images_per_second(backend: str, images, batch: int) -> float:
    """The minimal hand-written Algorithm-1 step on the tutorial's models
    (benchmarks/throughput.py: `tf.function`, `jax.jit` or eager PyTorch),
    float32: one epoch to compile, the next timed."""
    import throughput

    epoch = throughput.handwritten_epoch(backend, images, batch)
    epoch()
    wait_for_device(backend)
    start = time.perf_counter()
    epoch()
    wait_for_device(backend)
    return (len(images) // batch) * batch / (time.perf_counter() - start)


def wait_for_device(backend: str) -> None:
    """Block until queued GPU work is done (the JAX epoch already waits)."""
    if backend == "torch":
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()
    elif backend == "tensorflow":
        import tensorflow as tf

        if tf.config.list_physical_devices("GPU"):
            tf.test.experimental.sync_devices()


def short_training(backend: str, settings: dict, out: Path, smoke: bool) -> dict:
    """The default `train` on a 60,000-image epoch (the sample tiled, written as
    IDX files and read by the real loader) for the training budget, scored by
    the shipped evaluator."""
    from gan_keras.averaging import sampling_generator
    from gan_keras.data import save_idx, to_uint8
    from gan_keras.evaluation import conditional_accuracy, evaluate_generator
    from gan_keras.training import TrainConfig, train

    images, labels = tiled_sample(EPOCH_IMAGES)
    with tempfile.TemporaryDirectory() as folder:
        save_idx(folder, to_uint8(images), labels)
        # The smoke run trains on 512 of them with a small model, so that it takes seconds on a CPU.
        small = {"max_images": 512, "base_filters": 8} if smoke else {}
        # No evaluation during the run (evaluate_every=0): the budget goes to training; scored once at the end.
        config = TrainConfig(source="idx", data_dir=folder, max_seconds=settings["train_seconds"], epochs=10_000,
                             evaluate_every=0, **small)
        result = train(config, out / f"train_{backend}", overwrite=True, verbose=0)
    generator = sampling_generator(result.model)
    figures = evaluate_generator(generator, n=settings["evaluated_images"])["samples"]
    accuracy = conditional_accuracy(generator, per_class=settings["evaluated_images"] // 10)
    return {"part": "train", "backend": backend, "device": device_name(backend), "epochs": result.epochs_run,
            "epoch_images": result.images_per_epoch, "training_seconds": round(result.training_seconds, 1),
            "images_per_second": round(result.images_per_second, 1), "evaluated_images": settings["evaluated_images"],
            "fid": figures["fid"], "classes_covered": figures["classes_covered"],
            "confident_fraction": figures["confident_fraction"], "precision": figures["precision"],
            "recall": figures["recall"], "conditional_accuracy": accuracy}


def synced_epoch_timer():
    import keras

    class SyncedEpochTimer(keras.callbacks.Callback):
        """Epoch wall times that end only when the device has finished: the
        last weight is copied to the host first (JAX and CUDA run
        asynchronously)."""

        def __init__(self):
            super().__init__()
            self.seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            keras.ops.convert_to_numpy(self.model.generator.weights[-1])
            self.seconds.append(time.perf_counter() - self._start)

    return SyncedEpochTimer()


if __name__ == "__main__":
    sys.exit(main())
