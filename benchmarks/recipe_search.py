"""Which training recipe makes the best digits in a fixed CPU budget?

Trains each candidate recipe with `gan_keras.training.train` for the same
wall-clock budget on the bundled MNIST sample (same seed, one after the
other, in this process), scores the final generator with the shipped
evaluator (2,000 samples) and prints a table beside the baseline recipe:
classifier FID, classes covered, confident fraction, images per second and
epochs, with each candidate's FID as a ratio of the baseline's.

A candidate is a set of `TrainConfig` settings; the baseline is the
previous default (``"previous default"``: base_filters 32, batch 64, Adam
2e-4 with beta_1 0.5, dropout 0.3, no averaging). Rank with a short budget,
then confirm the best few with the real one over several seeds:

    python benchmarks/recipe_search.py --seconds 90 --seeds 0
    python benchmarks/recipe_search.py --seconds 300 --seeds 0 1 2 --only "previous default" --only dcgan --only default

Runs are appended to ``--json`` as they finish, and a rerun with the same
file skips the runs already there, so a long search can be resumed.
Nothing else should run on the machine meanwhile: the budget is wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from gan_keras.training import CLASSIC_DCGAN  # noqa: E402  (after the backend is chosen)

# The previous default recipe, spelled out so that it stays reachable and
# measurable whatever `TrainConfig`'s defaults become.
PREVIOUS_DEFAULT = {
    **CLASSIC_DCGAN, "loss": "non_saturating", "batch_size": 64, "base_filters": 32,
    "d_learning_rate": None, "beta_2": None, "label_smoothing": 0.0, "ema": 0.0, "anneal": 0.0,
}

# The unconditional recipe with every regulariser off, whatever `--model dcgan`'s defaults become.
UNCONDITIONAL = {"model": "dcgan", "augment": "none", "r1_weight": 0.0, "r1_every": 1,
                 "minibatch_stddev": False, "simultaneous": False}

CANDIDATES: dict[str, dict] = {
    "previous default": PREVIOUS_DEFAULT,
    "default": {},  # whatever TrainConfig() is today (the conditional DCGAN)
    "dcgan": {"model": "dcgan"},  # today's unconditional recipe: `train --model dcgan`
    # Learning rates, TTUR and Adam's momentum.
    "lr 5e-4": {**PREVIOUS_DEFAULT, "learning_rate": 5e-4},
    "lr 1e-3": {**PREVIOUS_DEFAULT, "learning_rate": 1e-3},
    "ttur G 2e-4 D 6e-4": {**PREVIOUS_DEFAULT, "d_learning_rate": 6e-4},
    "ttur G 5e-4 D 1e-3": {**PREVIOUS_DEFAULT, "learning_rate": 5e-4, "d_learning_rate": 1e-3},
    "lr 5e-4 beta_1 0": {**PREVIOUS_DEFAULT, "learning_rate": 5e-4, "beta_1": 0.0},
    # The discriminator's regularisers.
    "no dropout": {**PREVIOUS_DEFAULT, "dropout": 0.0},
    "label smoothing 0.1": {**PREVIOUS_DEFAULT, "label_smoothing": 0.1},
    "hinge": {**PREVIOUS_DEFAULT, "loss": "hinge"},
    "lsgan": {**PREVIOUS_DEFAULT, "loss": "lsgan"},
    # Width and batch size: images per second against steps.
    "batch 32": {**PREVIOUS_DEFAULT, "batch_size": 32},
    "batch 128": {**PREVIOUS_DEFAULT, "batch_size": 128},
    "batch 128 lr 5e-4": {**PREVIOUS_DEFAULT, "batch_size": 128, "learning_rate": 5e-4},
    "width 16": {**PREVIOUS_DEFAULT, "base_filters": 16},
    "width 48": {**PREVIOUS_DEFAULT, "base_filters": 48},
    # Using the labels.
    "cgan": {**PREVIOUS_DEFAULT, "model": "cgan"},
    "cgan lr 5e-4": {**PREVIOUS_DEFAULT, "model": "cgan", "learning_rate": 5e-4},
    # Averaging and annealing (need the library's `ema` and `anneal` settings).
    "ema 0.99": {**PREVIOUS_DEFAULT, "ema": 0.99},
    "ema 0.999": {**PREVIOUS_DEFAULT, "ema": 0.999},
    "anneal last 50%": {**PREVIOUS_DEFAULT, "anneal": 0.5},
    # Issue 22: the unconditional DCGAN's regularisers and rules, each on top of the plain recipe.
    "dcgan plain": UNCONDITIONAL,
    "dcgan translation+cutout": {**UNCONDITIONAL, "augment": "translation_cutout"},
    "dcgan translation": {**UNCONDITIONAL, "augment": "translation"},
    "dcgan cutout": {**UNCONDITIONAL, "augment": "cutout"},
    "dcgan R1 1 every 4": {**UNCONDITIONAL, "r1_weight": 1.0, "r1_every": 4},
    "dcgan R1 0.1 every 4": {**UNCONDITIONAL, "r1_weight": 0.1, "r1_every": 4},
    "dcgan translation+cutout R1": {**UNCONDITIONAL, "augment": "translation_cutout", "r1_weight": 1.0, "r1_every": 4},
    "dcgan translation+cutout ema": {**UNCONDITIONAL, "augment": "translation_cutout", "ema": 0.999},
    "dcgan minibatch stddev": {**UNCONDITIONAL, "minibatch_stddev": True},
    "dcgan simultaneous": {**UNCONDITIONAL, "simultaneous": True},
    "dcgan R1 minibatch stddev": {**UNCONDITIONAL, "r1_weight": 1.0, "r1_every": 4, "minibatch_stddev": True},
    "dcgan R1 simultaneous": {**UNCONDITIONAL, "r1_weight": 1.0, "r1_every": 4, "simultaneous": True},
}

def parse_settings(text: str) -> dict:
    """``"dropout=0,model=cgan"`` -> ``{"dropout": 0, "model": "cgan"}``."""
    settings = {}
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        key, _, value = part.partition("=")
        try:
            settings[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            settings[key.strip()] = value.strip()
    return settings


def parse_recipe(text: str) -> dict:
    """``"dropout=0,learning_rate=1e-3"`` -> the previous default with those settings."""
    return {**PREVIOUS_DEFAULT, **parse_settings(text)}


COLUMNS = ("fid", "classes_covered", "confident_fraction", "images_per_second", "epochs")


def run_candidate(settings: dict, seconds: float, seed: int) -> dict:
    """Train one recipe for `seconds` and return its figures."""
    import keras

    from gan_keras.training import TrainConfig, train

    known = {key: value for key, value in settings.items() if key in TrainConfig.__dataclass_fields__}
    missing = sorted(set(settings) - set(known))
    if any(settings[key] not in (None, 0, 0.0) for key in missing):
        raise ValueError(f"this gan_keras has no setting(s) {missing}")
    # sample_every=5 as `make demo`: the budget includes what a user's run spends on grids.
    config = TrainConfig(source="bundled", max_seconds=seconds, epochs=100000, seed=seed, sample_every=5, **known)
    keras.backend.clear_session()
    with tempfile.TemporaryDirectory() as folder:
        result = train(config, Path(folder) / "run", verbose=0)
    samples = result.evaluation["samples"]
    row = {
        "fid": samples["fid"],
        "classes_covered": samples["classes_covered"],
        "confident_fraction": samples["confident_fraction"],
        "precision": samples.get("precision"),
        "recall": samples.get("recall"),
        "images_per_second": result.images_per_second,
        "epochs": result.epochs_run,
        "seconds": result.seconds,
    }
    if "conditional_accuracy" in result.evaluation:
        row["conditional_accuracy"] = result.evaluation["conditional_accuracy"]
    return row


def warmed_up_model(config, images, labels):
    """The model `train` builds for `config`, its `fit` dataset and the images
    one epoch trains on, after one warm-up epoch (which pays for tracing)."""
    import keras

    from gan_keras.data import make_dataset
    from gan_keras.training import build_gan

    keras.utils.set_random_seed(config.seed)
    dataset = make_dataset(images, labels if config.model == "cgan" else None, batch_size=config.batch_size,
                           seed=config.seed)
    model = build_gan(config)
    model.fit(dataset, epochs=1, verbose=0, shuffle=False)
    return model, dataset, (len(images) // config.batch_size) * config.batch_size


def time_recipes(names: list[str], epochs: int, seed: int = 0) -> dict[str, float]:
    """Steady training speed of each recipe, in images per second.

    The recipes' epochs alternate (after one warm-up epoch each, which pays
    for tracing), so that all see the same machine load, and each recipe's
    fastest epoch counts, as `timeit` does: interference only slows a run.
    """
    from gan_keras.callbacks import EpochTimer
    from gan_keras.data import load_images
    from gan_keras.training import TrainConfig

    images, labels = load_images("mnist", source="bundled")
    runs = {}
    for name in names:
        settings = {k: v for k, v in CANDIDATES[name].items() if k in TrainConfig.__dataclass_fields__}
        config = TrainConfig(source="bundled", seed=seed, **settings).validate()
        runs[name] = (*warmed_up_model(config, images, labels), [])
    for _ in range(epochs):
        for model, dataset, _, seconds in runs.values():
            history = model.fit(dataset, epochs=1, verbose=0, shuffle=False, callbacks=[EpochTimer()])
            seconds.append(history.history["epoch_seconds"][0])
    return {name: count / min(seconds) for name, (_, _, count, seconds) in runs.items()}


def summarise(runs: list[dict]) -> dict:
    """Mean and spread (max - min) of each figure over seeds."""
    summary = {}
    for column in COLUMNS + ("conditional_accuracy",):
        values = [run[column] for run in runs if column in run]
        if values:
            summary[column] = (statistics.fmean(values), max(values) - min(values))
    return summary


def print_table(results: dict, seconds: float, baseline: str) -> None:
    header = f"| {'recipe':<22} | seeds | " + " | ".join(f"{c.replace('_', ' '):>17}" for c in COLUMNS)
    print(f"\nAfter {seconds:.0f} s of training on the bundled sample (mean ± spread over seeds; "
          f"FID ratio = FID / FID of {baseline!r}, lower is better):\n")
    print(header + " | FID ratio |")
    print("|" + "---|" * (len(COLUMNS) + 3))
    base = summarise(results[baseline])["fid"][0] if results.get(baseline) else None
    for name, runs in results.items():
        if not runs:
            continue
        summary = summarise(runs)
        cells = []
        for column in COLUMNS:
            mean, spread = summary[column]
            digits = 3 if column == "confident_fraction" else (1 if column == "fid" else 0)
            cells.append(f"{mean:>9.{digits}f} ± {spread:<5.{digits}f}")
        ratio = f"{summary['fid'][0] / base:9.2f}" if base else f"{'':9}"
        print(f"| {name:<22} | {len(runs):>5} | " + " | ".join(cells) + f" | {ratio} |")
        if "conditional_accuracy" in summary:
            print(f"|   conditional accuracy {summary['conditional_accuracy'][0]:.3f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=90.0, help="wall-clock budget of each run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--only", action="append", choices=sorted(CANDIDATES), help="run only these recipes")
    parser.add_argument("--recipe", action="append", default=[],
                        help='also run this recipe: the previous default with some settings changed, '
                             'e.g. "dropout=0,learning_rate=1e-3" (its name is the text)')
    parser.add_argument("--baseline", default="previous default", choices=sorted(CANDIDATES))
    parser.add_argument("--speed", type=int, metavar="EPOCHS", default=0,
                        help="instead of training for --seconds, time EPOCHS alternating epochs of each recipe "
                             "and print images/s beside the baseline's")
    parser.add_argument("--json", help="append each run to this file (and skip runs already in it)")
    args = parser.parse_args(argv)

    for text in args.recipe:
        CANDIDATES[text] = parse_recipe(text)
    names = (args.only or ([] if args.recipe else list(CANDIDATES))) + list(args.recipe)
    if args.baseline not in names:
        names = [args.baseline] + names
    if args.speed:
        rates = time_recipes(names, args.speed, args.seeds[0])
        print(f"\nImages per second (best of {args.speed} alternating epochs on the bundled sample):\n")
        print(f"| {'recipe':<40} | images/s | ratio to {args.baseline!r} |\n|---|---|---|")
        for name, rate in rates.items():
            print(f"| {name:<40} | {rate:8.0f} | {rate / rates[args.baseline]:5.2f} |")
        return
    done = json.loads(Path(args.json).read_text()) if args.json and Path(args.json).exists() else []
    results = {name: [] for name in names}
    for seed in args.seeds:
        for name in names:
            earlier = [run for run in done if run["recipe"] == name and run["seed"] == seed
                       and run["budget"] == args.seconds]
            if earlier:
                results[name].append(earlier[0])
                continue
            row = {"recipe": name, "seed": seed, "budget": args.seconds,
                   **run_candidate(CANDIDATES[name], args.seconds, seed)}
            results[name].append(row)
            print(f"{name} (seed {seed}): FID {row['fid']:.1f}, {row['classes_covered']} classes, "
                  f"confident {row['confident_fraction']:.2f}, precision {row['precision']:.2f}, "
                  f"recall {row['recall']:.2f}, {row['images_per_second']:.0f} images/s, "
                  f"{row['epochs']} epochs", flush=True)
            if args.json:
                done.append(row)
                Path(args.json).write_text(json.dumps(done, indent=1))
    print_table(results, args.seconds, args.baseline)


if __name__ == "__main__":
    sys.exit(main())
