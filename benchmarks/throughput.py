"""Training throughput: gan_keras.GAN.fit against the TF DCGAN tutorial's loop.

All train the tutorial's architecture on the same bundled MNIST sample with
the same batch size and optimisers. Prints images/second for each and the
ratio to the tutorial loop. Two baselines:

- the TF DCGAN tutorial's own loop (TensorFlow, `@tf.function`, both networks
  updated from one forward pass);
- a minimal hand-written Algorithm-1 step on the chosen backend
  (`gan_keras.teaching.handwritten`: a `tf.function` around tape code, a `jax.jit`
  pure function, or plain PyTorch autograd), the fastest a step of the same
  algorithm runs there: the ratio `GAN.fit` / this is the library's overhead,
  apart from the backend's own speed.

- ``--backend tensorflow`` (default): everything in this process; epochs
  alternate between the contenders (after one warm-up epoch each, which pays
  for tracing) so that all see the same machine load, and each contender's
  *fastest* epoch counts (as `timeit` does: interference only slows a run).
- ``--backend jax`` or ``torch``: Keras runs one backend per process, so the
  TensorFlow tutorial loop is timed first by this same script in a child
  process (``--baseline-only``), then gan_keras on the chosen backend here,
  on the same machine, one after the other.

    python benchmarks/throughput.py [--backend tensorflow|jax|torch] [--epochs 3] [--batch-size 256]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

BACKENDS = ("tensorflow", "jax", "torch")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=BACKENDS, default="tensorflow", help="backend of the gan_keras contenders")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per contender")
    parser.add_argument("--batch-size", type=int, default=256, help="the tutorial's batch size")
    parser.add_argument("--max-images", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=1,
                        help="tile the 5,000-digit sample this many times (12 = a 60,000-image epoch)")
    parser.add_argument("--baseline-only", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args()


def tutorial_loop_rate(baselines, dataset, images_per_epoch: int, epochs: int) -> float:
    loop = baselines.TutorialLoop(baselines.tutorial_dcgan_generator(), baselines.tutorial_dcgan_discriminator())
    loop.train_epoch(dataset)  # warm-up: tracing
    seconds = []
    for _ in range(epochs):
        start = time.perf_counter()
        loop.train_epoch(dataset)
        seconds.append(time.perf_counter() - start)
    return images_per_epoch / min(seconds)


def handwritten_epoch(backend: str, images, batch_size: int, seed: int = 0):
    """A function that runs one epoch of `gan_keras.teaching.handwritten`'s step on the
    tutorial's models (Adam, the tutorial's learning rate), compiled the way
    that backend compiles: `tf.function`, `jax.jit`, or eager PyTorch."""
    import baselines
    import keras

    from gan_keras.teaching import handwritten

    generator, discriminator = baselines.tutorial_dcgan_generator(), baselines.tutorial_dcgan_discriminator()
    lr = baselines.TUTORIAL_LEARNING_RATE
    g_optimizer, d_optimizer = keras.optimizers.Adam(lr), keras.optimizers.Adam(lr)
    networks = (generator, discriminator, g_optimizer, d_optimizer)
    batches = [images[start:start + batch_size] for start in range(0, len(images) - batch_size + 1, batch_size)]
    seed_generator = keras.random.SeedGenerator(seed)
    if backend == "tensorflow":
        import tensorflow as tf

        step = tf.function(lambda real_images: handwritten.tensorflow_step(*networks, real_images, seed_generator))
    elif backend == "torch":
        def step(real_images):
            return handwritten.torch_step(*networks, real_images, seed_generator)
    else:
        import jax

        pure_step = handwritten.jax_train_step(*networks)
        latent_dim = generator.inputs[0].shape[-1]

        @jax.jit
        def jitted(state, real_images, key):
            key, d_key, g_key = jax.random.split(key, 3)
            d_noise = jax.random.normal(d_key, (batch_size, latent_dim))
            g_noise = jax.random.normal(g_key, (batch_size, latent_dim))
            state, _ = pure_step(state, real_images, d_noise, g_noise)
            return state, key

        carried = [handwritten.jax_state(*networks), jax.random.PRNGKey(seed)]

        def step(real_images):
            carried[:] = jitted(carried[0], real_images, carried[1])

    def epoch():
        for real_images in batches:
            step(real_images)
        if backend == "jax":
            jax.block_until_ready(carried[0])  # JAX runs asynchronously: wait for the last step

    return epoch


def baseline_in_child(args: argparse.Namespace) -> float:
    """Time the TensorFlow tutorial loop in a TensorFlow process."""
    command = [sys.executable, __file__, "--backend", "tensorflow", "--baseline-only", "--epochs", str(args.epochs),
               "--batch-size", str(args.batch_size), "--repeat", str(args.repeat)]
    if args.max_images:
        command += ["--max-images", str(args.max_images)]
    completed = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "KERAS_BACKEND": "tensorflow"})
    if completed.returncode != 0:
        raise SystemExit("the TensorFlow baseline failed (is TensorFlow installed?):\n" + completed.stderr[-2000:])
    return float(completed.stdout.split("BASELINE")[1].split()[0])


def main() -> None:
    args = parse_args()
    os.environ["KERAS_BACKEND"] = args.backend  # before Keras is imported
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import baselines
    import keras
    import numpy as np

    import gan_keras
    from gan_keras import GAN, make_dataset
    from gan_keras.callbacks import EpochTimer  # adds each epoch's wall time to the logs

    keras.utils.set_random_seed(0)
    images, _ = gan_keras.load_images("mnist", source="bundled", max_images=args.max_images)
    images = np.concatenate([images] * args.repeat)
    dataset = make_dataset(images, batch_size=args.batch_size, seed=0)
    images_per_epoch = (len(images) // args.batch_size) * args.batch_size
    if args.baseline_only:
        print("BASELINE", tutorial_loop_rate(baselines, dataset, images_per_epoch, args.epochs))
        return

    lr = baselines.TUTORIAL_LEARNING_RATE
    # Same update rule as the tutorial (both gradients from one forward pass),
    # and gan_keras's default rule (G scored by the freshly updated D).
    gans = {}
    for name, simultaneous in [("simultaneous=True", True), ("default (Algorithm 1)", False)]:
        gan = GAN(baselines.tutorial_dcgan_generator(), baselines.tutorial_dcgan_discriminator(), seed=0)
        gan.compile(keras.optimizers.Adam(lr), keras.optimizers.Adam(lr), loss="non_saturating", simultaneous=simultaneous)
        gans[f"gan_keras.GAN.fit on {args.backend}, {name}"] = (gan, [])

    minimal_epoch, minimal_seconds = handwritten_epoch(args.backend, images, args.batch_size), []
    minimal_name = f"hand-written Algorithm 1 on {args.backend} (minimal)"

    def time_gans():
        start = time.perf_counter()
        minimal_epoch()
        minimal_seconds.append(time.perf_counter() - start)
        for gan, seconds in gans.values():
            history = gan.fit(dataset, epochs=1, verbose=0, callbacks=[EpochTimer()])
            seconds.append(history.history["epoch_seconds"][0])

    if args.backend == "tensorflow":
        baseline = baselines.TutorialLoop(baselines.tutorial_dcgan_generator(), baselines.tutorial_dcgan_discriminator())
        baseline.train_epoch(dataset)  # warm-up: trace every step function, fill the dataset cache
        minimal_epoch()
        for gan, _ in gans.values():
            gan.fit(dataset, epochs=1, verbose=0)
        baseline_seconds = []
        for _ in range(args.epochs):  # alternate, so that all see the same load
            start = time.perf_counter()
            baseline.train_epoch(dataset)
            baseline_seconds.append(time.perf_counter() - start)
            time_gans()
        baseline_rate = images_per_epoch / min(baseline_seconds)
    else:
        baseline_rate = baseline_in_child(args)
        minimal_epoch()  # warm-up: compile
        for gan, _ in gans.values():
            gan.fit(dataset, epochs=1, verbose=0)  # warm-up: compile
        for _ in range(args.epochs):
            time_gans()

    minimal_rate = images_per_epoch / min(minimal_seconds)
    print(f"{'contender':<52} {'images/s':>9} {'ratio':>7} {'vs minimal':>10}")
    print(f"{'TF DCGAN tutorial loop (@tf.function, TensorFlow)':<52} {baseline_rate:>9.1f} {1:>7.3f}")
    print(f"{minimal_name:<52} {minimal_rate:>9.1f} {minimal_rate / baseline_rate:>7.3f} {1:>10.3f}")
    for name, (_, seconds) in gans.items():
        rate = images_per_epoch / min(seconds)
        print(f"{name:<52} {rate:>9.1f} {rate / baseline_rate:>7.3f} {rate / minimal_rate:>10.3f}")
    print(f"(ratio = images/s / the tutorial loop's; vs minimal = / the hand-written step's on {args.backend}; "
          f"best of {args.epochs} epochs of {images_per_epoch} images, batch {args.batch_size}, keras {keras.__version__})")


if __name__ == "__main__":
    main()
