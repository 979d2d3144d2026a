"""Sample quality after the same wall-clock budget: gan_keras vs two tutorials.

Trains, one after the other on the same bundled MNIST sample and machine,
for `--seconds` each (stopping after the epoch in which the budget runs out):

  (a) the TensorFlow DCGAN tutorial's model and hand-written loop (baseline),
  (b) the keras.io "custom train_step" guide's GAN (baseline),
  (c) gan_keras's default (`gan_keras.training.TrainConfig()`),

then scores 2,000 samples of each with the shipped evaluator and prints a
table (images/s, epochs, classifier FID, classes covered, precision,
recall, confident fraction), the real-vs-real floor, and the ratio of
gan_keras's FID to the best baseline's.

    python benchmarks/quality_at_budget.py --seconds 300 [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import time

import baselines  # sets KERAS_BACKEND before keras loads
import keras

from gan_keras import TimeBudget, load_images, make_dataset
from gan_keras.evaluation import evaluate_images
from gan_keras.gan import generate_images
from gan_keras.training import TrainConfig, build_gan

SAMPLES = 2000


def run_tutorial(images, seconds, seed, labels=None):
    keras.utils.set_random_seed(seed)
    loop = baselines.TutorialLoop(baselines.tutorial_dcgan_generator(), baselines.tutorial_dcgan_discriminator())
    dataset = make_dataset(images, batch_size=baselines.TUTORIAL_BATCH_SIZE, seed=seed)
    start, epochs = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        loop.train_epoch(dataset)
        epochs += 1
    elapsed = time.perf_counter() - start
    samples = generate_images(loop.generator, SAMPLES, seed=seed)
    return samples, epochs, elapsed, baselines.TUTORIAL_BATCH_SIZE


def run_keras_guide(images, seconds, seed, labels=None):
    keras.utils.set_random_seed(seed)
    gan = baselines.KerasGuideGAN(baselines.keras_guide_generator(), baselines.keras_guide_discriminator(), seed=seed)
    gan.compile()
    # The guide trains on pixels in [0, 1] (sigmoid output).
    dataset = make_dataset(images, batch_size=baselines.KERAS_GUIDE_BATCH_SIZE, seed=seed).map(lambda x: (x + 1.0) / 2.0)
    start = time.perf_counter()
    history = gan.fit(dataset, epochs=100000, verbose=0, callbacks=[TimeBudget(seconds)])
    elapsed = time.perf_counter() - start
    samples = generate_images(gan.generator, SAMPLES, seed=seed) * 2.0 - 1.0
    return samples, len(history.history["d_loss"]), elapsed, baselines.KERAS_GUIDE_BATCH_SIZE


def run_gan_keras(images, seconds, seed, labels=None):
    config = TrainConfig(seed=seed)
    keras.utils.set_random_seed(seed)
    gan = build_gan(config)
    # A conditional default (model="cgan") would train on the labels too.
    dataset = make_dataset(images, labels if gan.conditional else None, batch_size=config.batch_size, seed=seed)
    start = time.perf_counter()
    history = gan.fit(dataset, epochs=100000, verbose=0, shuffle=False, callbacks=[TimeBudget(seconds)])
    elapsed = time.perf_counter() - start
    return gan.generate(SAMPLES, seed=seed), len(history.history["d_loss"]), elapsed, config.batch_size


CONTENDERS = {
    "TF DCGAN tutorial (baseline)": run_tutorial,
    "keras.io train_step guide (baseline)": run_keras_guide,
    "gan_keras default": run_gan_keras,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", choices=sorted(CONTENDERS), action="append", help="run only these contenders")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()

    images, labels = load_images("mnist", source="bundled")
    rows = {}
    for name, run in CONTENDERS.items():
        if args.only and name not in args.only:
            continue
        samples, epochs, elapsed, batch_size = run(images, args.seconds, args.seed, labels)
        result = evaluate_images(samples, seed=args.seed)
        rows[name] = {
            "images_per_second": epochs * (len(images) // batch_size) * batch_size / elapsed,
            "epochs": epochs,
            "seconds": elapsed,
            **{key: value for key, value in result["samples"].items() if key != "histogram"},
        }
        floor = {key: value for key, value in result["real_floor"].items() if key != "histogram"}
        print(f"done: {name} ({epochs} epochs in {elapsed:.0f} s)", flush=True)

    rows["real data (floor)"] = floor
    columns = ["images_per_second", "epochs", "fid", "classes_covered", "precision", "recall", "confident_fraction"]
    header = f"| {'contender':<38} | " + " | ".join(f"{c.replace('_', ' '):>9}" for c in columns) + " |"
    print(f"\nSamples after {args.seconds:.0f} s of training on {len(images)} bundled digits ({SAMPLES} samples scored):\n")
    print(header)
    print("|" + "---|" * (len(columns) + 1))
    for name, row in rows.items():
        cells = [row.get(column, "") for column in columns]
        text = [f"{v:>9.3f}" if isinstance(v, float) and v < 10 else (f"{v:>9.0f}" if isinstance(v, (int, float)) else f"{v:>9}") for v in cells]
        print(f"| {name:<38} | " + " | ".join(text) + " |")
    baseline_fids = [row["fid"] for name, row in rows.items() if "baseline" in name]
    if "gan_keras default" in rows and baseline_fids:
        ratio = rows["gan_keras default"]["fid"] / min(baseline_fids)
        print(f"\nFID ratio gan_keras / best baseline: {ratio:.3f} (lower is better; < 1 means gan_keras wins)")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"seconds": args.seconds, "rows": rows}, handle, indent=2)


if __name__ == "__main__":
    main()
