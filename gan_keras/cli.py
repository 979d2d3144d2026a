"""Command line: ``python -m gan_keras train|sample|evaluate``.

The entry point only parses arguments and reports errors; the work is done
by `gan_keras.training.train` and `gan_keras.gan.generate_images`.
Every error is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

EXIT_USAGE = 2
# Kept here (not imported) so that arguments are checked before TensorFlow
# loads; tests/test_cli.py checks they match the library's own lists.
MODEL_CHOICES = ("dcgan", "mlp", "cgan", "vae")
LOSS_CHOICES = ("hinge", "lsgan", "minimax", "non_saturating", "wgan_gp")
AUGMENT_CHOICES = ("none", "translation", "cutout", "translation_cutout")  # gan_keras.augment.AUGMENTATIONS
DISTRIBUTION_CHOICES = ("none", "data_parallel")  # gan_keras.distribute.DISTRIBUTIONS, without importing Keras
BACKEND_CHOICES = ("tensorflow", "jax", "torch")


class _OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, not usage + message."""

    def error(self, message: str):
        raise _UsageError(message)


class _UsageError(Exception):
    pass


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {value}")
    return value


def _float_at_least(minimum: float, inclusive: bool):
    """An argparse type for a number >= `minimum` (or > it, with ``inclusive=False``)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not (value >= minimum if inclusive else value > minimum):
            raise argparse.ArgumentTypeError(f"expected a number {'>=' if inclusive else '>'} {minimum:g}, got {text}")
        return value

    return parse


_positive_float = _float_at_least(0, inclusive=False)
_non_negative_float = _float_at_least(0, inclusive=True)


def _labels(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated class numbers like 0,1,2, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    from gan_keras.data import DATASETS, SOURCES

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
    train.add_argument("--dataset", choices=DATASETS)
    train.add_argument("--source", choices=SOURCES,
                       help="auto: keras.datasets if cached/reachable, else the bundled sample")
    train.add_argument("--data-dir", help="folder of IDX files, with --source idx")
    train.add_argument("--model", choices=MODEL_CHOICES,
                       help="default cgan: a class-conditional DCGAN (the sample grid's columns are the digits 0-9); "
                            "dcgan for the unconditional one")
    train.add_argument("--loss", choices=LOSS_CHOICES)
    train.add_argument("--epochs", type=_positive_int, default=None)
    train.add_argument("--max-seconds", type=_non_negative_float, default=None,
                       help="stop after the epoch in which this many seconds have passed (0: after one epoch)")
    train.add_argument("--batch-size", type=_positive_int, default=None)
    train.add_argument("--latent-dim", type=_positive_int, default=None)
    train.add_argument("--base-filters", type=_positive_int, default=None, help="DCGAN width")
    train.add_argument("--learning-rate", type=_positive_float, default=None,
                       help="Adam learning rate (default 1e-3; 1e-4 for wgan_gp)")
    train.add_argument("--d-learning-rate", type=_positive_float, default=None,
                       help="the discriminator's learning rate, if not --learning-rate (TTUR)")
    train.add_argument("--beta-1", type=_non_negative_float, default=None, help="Adam's beta_1 for both networks")
    train.add_argument("--beta-2", type=_non_negative_float, default=None,
                       help="Adam's beta_2 for both networks (default 0.999; 0.9 for wgan_gp)")
    train.add_argument("--dropout", type=_non_negative_float, default=None, help="the discriminator's dropout rate (default 0.3 for cgan, else 0)")
    train.add_argument("--spatial-dropout", action=argparse.BooleanOptionalAction, default=None,
                       help="D's dropout drops whole feature maps instead of single units (faster on a CPU)")
    train.add_argument("--minibatch-stddev", action=argparse.BooleanOptionalAction, default=None,
                       help="D sees each batch's spread as one more feature map (against mode collapse)")
    train.add_argument("--simultaneous", action=argparse.BooleanOptionalAction, default=None,
                       help="update G and D from one forward pass (the TF tutorial's rule) instead of Algorithm 1")
    train.add_argument("--ema", type=_non_negative_float, default=None,
                       help="sample a moving average of G's weights with this decay, e.g. 0.999 (0 = off)")
    train.add_argument("--anneal", type=_non_negative_float, default=None,
                       help="lower the learning rates linearly to 0 over this last share of the run (0 = off)")
    train.add_argument("--augment", choices=AUGMENT_CHOICES,
                       help="show D real and generated images through the same random shifts and/or blanked "
                            "squares (DiffAugment)")
    train.add_argument("--r1-weight", type=_non_negative_float, default=None,
                       help="gamma of the R1 penalty on D's gradient at real images (0 = off)")
    train.add_argument("--r1-every", type=_positive_int, default=None,
                       help="compute the R1 penalty every N-th D step only, N times as heavily (lazy)")
    train.add_argument("--label-smoothing", type=_non_negative_float, default=None,
                       help="one-sided label smoothing of D's real target, e.g. 0.1 (at most 0.5)")
    train.add_argument("--max-images", type=_positive_int, default=None, help="train on the first N images only")
    train.add_argument("--sample-every", type=_positive_int, default=None)
    train.add_argument("--d-steps", type=_positive_int, default=None, help="D updates per G update (wgan_gp: 5)")
    train.add_argument("--evaluate-every", type=_non_negative_int, default=None,
                       help="record the evaluator's figures every N epochs (MNIST; 0 = off)")
    train.add_argument("--seed", type=_non_negative_int, default=None)
    train.add_argument("--tensorboard", action="store_true", default=None,
                       help="log losses and sample grids for TensorBoard in OUT/logs")
    train.add_argument("--mixed-precision", action="store_true", default=None,
                       help="float16 maths with loss scaling on both optimizers (NVIDIA GPUs)")
    train.add_argument("--distribution", choices=DISTRIBUTION_CHOICES,
                       help="data_parallel: split every batch across the local GPUs/TPU chips with Keras' engine "
                            "(JAX: keras.distribution.DataParallel; TensorFlow: MirroredStrategy; "
                            "--batch-size is the global batch)")
    train.add_argument("--out", required=True, type=Path,
                       help="output folder; rerunning the same command after an interruption resumes the run")
    train.add_argument("--overwrite", action="store_true", help="replace an earlier run's outputs in --out")

    sample = commands.add_parser("sample", parents=[common], help="draw images from a saved generator")
    sample.add_argument("--generator", required=True, type=Path, help="a generator.keras written by train")
    sample.add_argument("--n", type=_positive_int, default=64)
    sample.add_argument("--labels", type=_labels, default=None, help="classes for a conditional generator, e.g. 0,1,2")
    sample.add_argument("--seed", type=_non_negative_int, default=0)
    sample.add_argument("--out", required=True, type=Path, help=".png for a grid, .npy for the raw array in [-1, 1]")
    sample.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    evaluate = commands.add_parser("evaluate", parents=[common],
                                   help="measure a saved MNIST generator with the shipped evaluator")
    evaluate.add_argument("--generator", required=True, type=Path, help="a generator.keras written by train")
    evaluate.add_argument("--n", type=_positive_int, default=2000, help="samples to score (at most 2500)")
    evaluate.add_argument("--seed", type=_non_negative_int, default=0)
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
    from gan_keras.training import TrainConfig, train

    settings = {
        name: getattr(args, name)
        for name in ("dataset", "source", "data_dir", "model", "loss", "epochs", "max_seconds", "batch_size",
                     "latent_dim", "base_filters", "learning_rate", "d_learning_rate", "beta_1", "beta_2", "dropout", "spatial_dropout", "minibatch_stddev", "simultaneous", "ema",
                     "anneal", "augment", "r1_weight", "r1_every", "label_smoothing", "max_images", "sample_every", "seed",
                     "d_steps", "evaluate_every", "tensorboard", "mixed_precision", "distribution")
        if getattr(args, name) is not None
    }
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
