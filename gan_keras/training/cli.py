"""Command line: ``python -m gan_keras train|sample|evaluate``.

The entry point only parses arguments and reports errors; the work is done
by `gan_keras.training.train` and `gan_keras.gan.generate_images`. The train
command's flags are built from `TrainConfig`'s fields (`add_settings`).
Every error is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

from gan_keras.training.config import COUNT, WHOLE, TrainConfig, recipe_help

EXIT_USAGE = 2
BACKEND_CHOICES = ("tensorflow", "jax", "torch")


class _OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, not usage + message."""

    def error(self, message: str):
        raise _UsageError(message)


class _UsageError(Exception):
    pass


def _labels(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated class numbers like 0,1,2, got {text!r}") from None


def add_settings(parser: argparse.ArgumentParser) -> None:
    """One flag per `TrainConfig` field, with the field's help and check (``--batch-size`` for
    ``batch_size``). Every flag defaults to None: a flag left out takes TrainConfig's default."""
    for field in dataclasses.fields(TrainConfig):
        flag, check = "--" + field.name.replace("_", "-"), field.metadata["check"]
        default = recipe_help(field.name) if field.default is None else f"default: {field.default}"
        help_text = f"{field.metadata['help']} ({default})" if default else field.metadata["help"]
        if check is None:
            parser.add_argument(flag, default=None, help=help_text)
        elif check.kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        elif check.choices:
            parser.add_argument(flag, choices=check.choices, default=None, help=help_text)
        else:
            parser.add_argument(flag, type=check.parse, default=None, help=help_text)


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog="python -m gan_keras", description="Train and sample GANs with Keras 3.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_OneLineParser)
    # Every command takes --backend; it must be known before Keras is imported.
    common = _OneLineParser(add_help=False)
    common.add_argument("--backend", choices=BACKEND_CHOICES,
                        help="Keras backend (default: $KERAS_BACKEND, else tensorflow)")

    train = commands.add_parser(
        "train", parents=[common], help="train a GAN and write samples, a training GIF and the generator",
        description="Flags left out take the defaults of gan_keras.training.TrainConfig.",
    )
    add_settings(train)
    train.add_argument("--out", required=True, type=Path,
                       help="output folder; rerunning the same command after an interruption resumes the run")
    train.add_argument("--overwrite", action="store_true", help="replace an earlier run's outputs in --out")

    sample = commands.add_parser("sample", parents=[common], help="draw images from a saved generator")
    sample.add_argument("--generator", required=True, type=Path, help="a generator.keras written by train")
    sample.add_argument("--n", type=WHOLE.parse, default=64)
    sample.add_argument("--labels", type=_labels, default=None, help="classes for a conditional generator, e.g. 0,1,2")
    sample.add_argument("--seed", type=COUNT.parse, default=0)
    sample.add_argument("--out", required=True, type=Path, help=".png for a grid, .npy for the raw array in [-1, 1]")
    sample.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    evaluate = commands.add_parser("evaluate", parents=[common],
                                   help="measure a saved MNIST generator with the shipped evaluator")
    evaluate.add_argument("--generator", required=True, type=Path, help="a generator.keras written by train")
    evaluate.add_argument("--n", type=WHOLE.parse, default=2000, help="samples to score (at most 2500)")
    evaluate.add_argument("--seed", type=COUNT.parse, default=0)
    evaluate.add_argument("--json", action="store_true", help="print the figures as JSON instead of a table")
    return parser


def run_evaluate(args: argparse.Namespace) -> None:
    import json

    from gan_keras.evaluation import FIGURES, conditional_accuracy, evaluate_generator
    from gan_keras.gan import is_conditional
    from gan_keras.training import load_generator

    if args.n > 2500:
        raise ValueError(f"`n` must be at most 2500 (the real floor needs two disjoint halves of the bundled sample), got {args.n}")
    generator = load_generator(args.generator)
    if tuple(generator.outputs[0].shape[1:]) != (28, 28, 1):
        raise ValueError(
            f"`generator` makes images of shape {tuple(generator.outputs[0].shape[1:])}; "
            "the shipped evaluator judges 28x28x1 MNIST digits only"
        )
    result = evaluate_generator(generator, n=args.n, seed=args.seed)
    if is_conditional(generator):
        result["conditional_accuracy"] = conditional_accuracy(generator, seed=args.seed)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{args.n} samples from {args.generator} vs real bundled digits")
    print(f"{'figure':<20} {'samples':>10} {'real data':>10}  better")
    for name, lower_is_better in FIGURES.items():
        sample, floor = result["samples"][name], result["real_floor"][name]
        print(f"{name:<20} {sample:>10.3f} {floor:>10.3f}  {'lower' if lower_is_better else 'higher'}")
    if "conditional_accuracy" in result:
        print(f"{'conditional_accuracy':<20} {result['conditional_accuracy']:>10.3f} {'':>10}  higher (chance 0.1)")


def run_train(args: argparse.Namespace) -> None:
    from gan_keras.training.run import train

    settings = {field.name: getattr(args, field.name) for field in dataclasses.fields(TrainConfig)
                if getattr(args, field.name) is not None}
    # Flags left out take TrainConfig's defaults, so the two cannot disagree.
    config = TrainConfig(**settings)
    import keras

    print(f"Keras {keras.__version__} on the {keras.backend.backend()} backend")
    result = train(config, args.out, overwrite=args.overwrite)
    print(
        f"trained {result.epochs_run} epoch(s) in {result.seconds:.0f} s, of which {result.training_seconds:.0f} s "
        f"in training steps ({result.images_per_second:.0f} images/s; the rest drew grids, evaluated and saved); "
        f"outputs in {result.out_dir}: samples/, training.gif, generator.keras, history.json, losses.png"
    )
    if result.evaluation:
        samples, floor = result.evaluation["samples"], result.evaluation["real_floor"]
        line = (
            f"evaluation of {result.evaluation['n']} samples: classifier FID {samples['fid']:.1f} "
            f"(real data {floor['fid']:.1f}), classes covered {samples['classes_covered']}/10, "
            f"confident {samples['confident_fraction']:.0%}"
        )
        if "conditional_accuracy" in result.evaluation:
            line += f", requested class recognised {result.evaluation['conditional_accuracy']:.0%}"
        print(line)


def run_sample(args: argparse.Namespace) -> None:
    import numpy as np

    from gan_keras.gan import generate_images
    from gan_keras.plotting import save_image_grid
    from gan_keras.training import load_generator

    suffix = args.out.suffix.lower()
    if suffix not in (".png", ".npy"):
        raise ValueError(f"`out` must end in .png or .npy, got {args.out.name!r}")
    if args.out.exists() and not args.overwrite:
        raise FileExistsError(f"`out` {args.out} already exists; choose another name or pass --overwrite")
    labels = args.labels
    if labels is not None and len(labels) not in (1, args.n):
        raise ValueError(f"`labels` must name 1 or --n ({args.n}) classes, got {len(labels)}")
    if labels is not None and len(labels) == 1:
        labels = labels[0]
    generator = load_generator(args.generator)
    images = generate_images(generator, args.n, labels=labels, seed=args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".npy":
        np.save(args.out, images)
    else:
        save_image_grid(images, args.out)
    print(f"wrote {args.n} image(s) to {args.out}")


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow and find its devices with the C++ start-up chatter hidden.

    On machines without a GPU, TensorFlow logs "Could not find cuda drivers"
    and "failed call to cuInit" through absl before any log level applies. We silence file descriptor 2
    only for the import; a failing import still raises (and is shown) after.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow

            # Looking for GPUs is what prints "failed call to cuInit" on a
            # machine without one; do it now, while stderr is muted.
            tensorflow.config.list_physical_devices()
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def select_backend(name: str | None) -> str:
    """Set ``KERAS_BACKEND`` to `name` (when given) before Keras is imported.

    Returns:
        The backend this run uses.

    Raises:
        ValueError: Keras was already imported with another backend.
    """
    chosen = name or os.environ.get("KERAS_BACKEND", "tensorflow")
    if chosen not in BACKEND_CHOICES:
        raise ValueError(f"KERAS_BACKEND must be one of {list(BACKEND_CHOICES)}, got {chosen!r}")
    keras = sys.modules.get("keras")
    if keras is not None and keras.backend.backend() != chosen:
        raise ValueError(
            f"`backend` {chosen!r} was asked for, but Keras is already running on {keras.backend.backend()!r}"
        )
    os.environ["KERAS_BACKEND"] = chosen
    return chosen


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status."""
    args = None
    try:
        args = build_parser().parse_args(argv)
        if select_backend(args.backend) == "tensorflow":
            _import_tensorflow_quietly()
        {"train": run_train, "sample": run_sample, "evaluate": run_evaluate}[args.command](args)
    except _UsageError as error:
        print(f"gan_keras: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (ValueError, TypeError, OSError, RuntimeError) as error:
        message = " ".join(str(error).split())  # one line, whatever the library said
        print(f"gan_keras: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        hint = "; run the same command again to resume after the last finished epoch" if args and args.command == "train" else ""
        print(f"gan_keras: interrupted{hint}", file=sys.stderr)
        return 130
    return 0
