"""Data parallelism on JAX with two CPU devices, run in a fresh interpreter by
tests/test_data_parallel.py: XLA's host device count is fixed when JAX starts.

    python tests/data_parallel_checks.py OUT_DIR

prints one line ``RESULT {json}``; the test makes the assertions.
"""

import json
import os
import sys
from pathlib import Path

OUT_DIR = Path(sys.argv[1])
os.environ["KERAS_BACKEND"] = "jax"
os.environ["JAX_PLATFORMS"] = "cpu"
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2").strip()
os.environ["GAN_KERAS_OFFLINE"] = "1"

import jax  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

from gan_keras.data import load_images, make_dataset  # noqa: E402
from gan_keras.training.distribute import get_distribution  # noqa: E402
from gan_keras.training import TrainConfig, build_gan, train  # noqa: E402
from interruption import straight_and_resumed  # noqa: E402


def largest_difference(first, second) -> float:
    return max(float(np.abs(a - b).max()) for a, b in zip(first, second))


def two_devices_equal_one():
    """Two `fit` steps of the default model (the conditional DCGAN, with
    dropout) on one device and on two, from the same weights and seed."""
    config = TrainConfig(base_filters=8, latent_dim=16, batch_size=16)
    images, labels = load_images("mnist", source="bundled", max_images=32)

    def two_steps(distribution):
        keras.utils.set_random_seed(3)
        with distribution.scope():
            gan = build_gan(config)
            gan.set_weights(initial)
            gan.fit(make_dataset(images, labels, batch_size=16, seed=0), epochs=1, verbose=0, shuffle=False)
        return gan

    keras.utils.set_random_seed(3)
    initial = build_gan(config).get_weights()
    one = two_steps(get_distribution("none"))
    distribution = get_distribution("data_parallel")
    two = two_steps(distribution)
    with distribution.scope():  # how fit lays out a batch of 16 images: split along the batch axis
        layout = keras.distribution.distribution().get_data_layout((16, 28, 28, 1))
    kernel = two.generator.trainable_variables[0].value
    return {
        "devices": len(jax.devices()),
        "replicas": distribution.replicas,
        "engine": distribution.engine,
        "weights_on_devices": len(kernel.sharding.device_set),
        "batch_axes": list(layout.axes),
        "mesh": dict(zip(layout.device_mesh.axis_names, layout.device_mesh.shape)),
        "moved": largest_difference(one.get_weights(), initial),
        "difference": largest_difference(one.get_weights(), two.get_weights()),
    }


def uneven_batch_is_refused():
    config = TrainConfig(source="bundled", max_images=64, batch_size=15, epochs=1, evaluate_every=0,
                         distribution="data_parallel")
    try:
        train(config, OUT_DIR / "uneven", verbose=0)
    except ValueError as error:
        return {"message": str(error), "left_behind": (OUT_DIR / "uneven").exists()}
    return {"message": None, "left_behind": (OUT_DIR / "uneven").exists()}


def trains_and_resumes():
    """`train(distribution="data_parallel")` for two epochs, straight through
    and interrupted after the first then resumed: the same generator."""
    config = TrainConfig(source="bundled", model="dcgan", max_images=64, batch_size=16, epochs=2, base_filters=4,
                         latent_dim=8, evaluate_every=0, distribution="data_parallel", seed=2)
    straight, resumed, history = straight_and_resumed(config, OUT_DIR, interrupt_at=1)
    saved = keras.models.load_model(OUT_DIR / "resumed" / "generator.keras", compile=False)
    return {
        "epochs": resumed.epochs_run,
        "resumed_after": history["resumed_after_epochs"],
        "d_losses": history["history"]["d_loss"],
        "difference": largest_difference(straight.model.get_weights(), resumed.model.get_weights()),
        "saved_difference": largest_difference(saved.get_weights(), resumed.model.generator.get_weights()),
        "gif": (OUT_DIR / "resumed" / "training.gif").is_file(),
    }


if __name__ == "__main__":
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    result = {"step": two_devices_equal_one(), "uneven": uneven_batch_is_refused(), "resume": trains_and_resumes()}
    print("RESULT " + json.dumps(result))
