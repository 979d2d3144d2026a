"""Training throughput: gan_keras.GAN.fit against the TF DCGAN tutorial's loop.

All train the tutorial's architecture on the same bundled MNIST sample with
the same batch size and optimisers, in the same process. Epochs alternate
between the two (after one warm-up epoch each, which pays for tracing) so
that both see the same machine load, and each contender's *fastest* epoch
counts (as `timeit` does: interference only ever slows a run down). Prints
images/second for each and the ratio gan_keras / baseline.

    python benchmarks/throughput.py [--epochs 3] [--batch-size 256]
"""

from __future__ import annotations

import argparse
import time

import baselines  # sets KERAS_BACKEND before keras loads
import keras

import gan_keras
from gan_keras import GAN, make_dataset
from gan_keras.callbacks import EpochTimer  # adds each epoch's wall time to the logs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per contender")
    parser.add_argument("--batch-size", type=int, default=baselines.TUTORIAL_BATCH_SIZE)
    parser.add_argument("--max-images", type=int, default=None)
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    images, _ = gan_keras.load_images("mnist", source="bundled", max_images=args.max_images)
    dataset = make_dataset(images, batch_size=args.batch_size, seed=0)
    images_per_epoch = (len(images) // args.batch_size) * args.batch_size

    baseline = baselines.TutorialLoop(baselines.tutorial_dcgan_generator(), baselines.tutorial_dcgan_discriminator())
    lr = baselines.TUTORIAL_LEARNING_RATE
    # Same update rule as the tutorial (both gradients from one forward pass),
    # and gan_keras's default rule (G scored by the freshly updated D).
    gans = {}
    for name, simultaneous in [("gan_keras.GAN.fit, simultaneous=True", True), ("gan_keras.GAN.fit, default (alternating)", False)]:
        gan = GAN(baselines.tutorial_dcgan_generator(), baselines.tutorial_dcgan_discriminator(), seed=0)
        gan.compile(keras.optimizers.Adam(lr), keras.optimizers.Adam(lr), loss="non_saturating", simultaneous=simultaneous)
        gans[name] = (gan, [])

    # Warm-up: trace every step function and fill the dataset cache.
    baseline.train_epoch(dataset)
    for gan, _ in gans.values():
        gan.fit(dataset, epochs=1, verbose=0)

    baseline_seconds = []
    for _ in range(args.epochs):
        start = time.perf_counter()
        baseline.train_epoch(dataset)
        baseline_seconds.append(time.perf_counter() - start)
        for gan, seconds in gans.values():
            history = gan.fit(dataset, epochs=1, verbose=0, callbacks=[EpochTimer()])
            seconds.append(history.history["epoch_seconds"][0])

    baseline_rate = images_per_epoch / min(baseline_seconds)
    print(f"{'contender':<44} {'images/s':>9} {'ratio':>7}")
    print(f"{'TF DCGAN tutorial loop (@tf.function)':<44} {baseline_rate:>9.1f} {1:>7.3f}")
    for name, (_, seconds) in gans.items():
        rate = images_per_epoch / min(seconds)
        print(f"{name:<44} {rate:>9.1f} {rate / baseline_rate:>7.3f}")
    print(f"(ratio = gan_keras / tutorial images/s; best of {args.epochs} epochs of {images_per_epoch} images, "
          f"batch {args.batch_size}, keras {keras.__version__}, backend {keras.backend.backend()})")


if __name__ == "__main__":
    main()
