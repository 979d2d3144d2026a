"""Where does a training step's time go? One step of the default model, timed by layer.

Builds the model `train` builds (`TrainConfig()`, or the recipe given with
``--recipe "model=dcgan,dropout=0"``) and measures on the bundled sample, at
the training batch size, on the TensorFlow backend:

- the whole step, as `fit` runs it (best of several epochs);
- each layer of G and of D alone: its forward and backward pass, compiled,
  on the inputs it sees in training (best of several repeats, minus the cost
  of calling an empty compiled function);
- one Adam update of each network's weights.

A step (Algorithm 1) runs D three times (on the real batch and a fake
batch for D's update, on a fresh fake batch for G's loss), so the table
weighs D's layers by 3; G runs forward and backward once for its own update,
plus one forward pass without a gradient to make D's fake batch, which the
table leaves in "the rest". It prints each part's time per step and its
share of the whole step; what the parts do not explain is that extra G pass
and the framework's own work (the loss, the noise, metrics, the data pipeline).

    python benchmarks/profile_step.py [--recipe "model=dcgan,dropout=0"] [--epochs 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402  (after the backend is chosen)
import tensorflow as tf  # noqa: E402
from recipe_search import parse_settings, warmed_up_model  # noqa: E402  (the same "k=v,k=v" recipes)

D_CALLS_PER_STEP = 3  # real and fake for D's update, fresh fake for G's loss


def best_seconds(function, *args, calls: int = 50, repeats: int = 5) -> float:
    """Seconds per call of a compiled `function`, best of `repeats` runs of `calls` calls."""
    for _ in range(3):  # tracing and warm-up
        function(*args)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            result = function(*args)
        tf.nest.map_structure(lambda t: t.numpy() if hasattr(t, "numpy") else t, result)
        best = min(best, (time.perf_counter() - start) / calls)
    return best


def layer_inputs(model: keras.Model, inputs) -> dict[str, list]:
    """The tensors each layer of `model` receives when the model runs on `inputs`."""
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    symbolic = [keras.tree.flatten(layer.input) for layer in layers]
    probe = keras.Model(model.inputs, [t for group in symbolic for t in group])
    values = probe(inputs, training=True)
    values = values if isinstance(values, (list, tuple)) else [values]
    result, position = {}, 0
    for layer, group in zip(layers, symbolic):
        result[layer.name] = list(values[position:position + len(group)])
        position += len(group)
    return result


def time_layer(layer: keras.layers.Layer, inputs: list) -> float:
    """Seconds of one forward and backward pass of `layer` alone."""
    @tf.function
    def forward_backward(*tensors):
        with tf.GradientTape() as tape:
            tape.watch([t for t in tensors if t.dtype.is_floating])
            output = layer(tensors[0] if len(tensors) == 1 else list(tensors), training=True)
            loss = tf.reduce_sum(output)
        return tape.gradient(loss, layer.trainable_variables + [t for t in tensors if t.dtype.is_floating])

    return best_seconds(forward_backward, *inputs)


def time_optimizer(model: keras.Model, optimizer: keras.optimizers.Optimizer) -> float:
    """Seconds of one optimizer update of `model`'s trainable weights."""
    gradients = [tf.ones_like(v) * 1e-8 for v in model.trainable_variables]

    @tf.function
    def update():
        optimizer.apply(gradients, model.trainable_variables)
        return tf.constant(0.0)

    return best_seconds(update)


def profile(config, epochs: int = 3) -> list[tuple[str, float]]:
    """``(part, seconds per step)`` rows: the whole step first, then its parts."""
    from gan_keras.callbacks import EpochTimer
    from gan_keras.data import load_images

    images, labels = load_images("mnist", source="bundled")
    gan, dataset, images_per_epoch = warmed_up_model(config, images, labels)
    history = gan.fit(dataset, epochs=epochs, verbose=0, shuffle=False, callbacks=[EpochTimer()])
    step = min(history.history["epoch_seconds"]) * config.batch_size / images_per_epoch

    batch = config.batch_size
    noise = keras.random.normal((batch, gan.latent_dim), seed=config.seed)
    batch_labels = tf.constant(labels[:batch].astype("int32"))
    conditional = config.model == "cgan"
    g_inputs = [noise, batch_labels] if conditional else noise
    fake_images = gan.generator(g_inputs, training=True)
    d_inputs = [fake_images, batch_labels] if conditional else fake_images

    overhead = best_seconds(tf.function(lambda t: t + 0.0), noise)
    rows = [("whole training step (fit)", step), ("calling one compiled function (subtracted below)", overhead)]
    for network, inputs, weight in ((gan.generator, g_inputs, 1), (gan.discriminator, d_inputs, D_CALLS_PER_STEP)):
        for name, tensors in layer_inputs(network, inputs).items():
            layer = network.get_layer(name)
            seconds = max(time_layer(layer, tensors) - overhead, 0.0) * weight
            rows.append((f"{network.name}/{name} ({type(layer).__name__}){' x3' if weight > 1 else ''}", seconds))
    for network, optimizer in ((gan.generator, gan.g_optimizer), (gan.discriminator, gan.d_optimizer)):
        rows.append((f"Adam update of {network.name}", max(time_optimizer(network, optimizer) - overhead, 0.0)))
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="", help='TrainConfig settings, e.g. "model=dcgan,dropout=0"')
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs of the whole step")
    args = parser.parse_args(argv)
    if keras.backend.backend() != "tensorflow":
        raise SystemExit("profile_step.py times TensorFlow graphs: run it with KERAS_BACKEND=tensorflow")

    from gan_keras.training import TrainConfig

    config = TrainConfig(source="bundled", **parse_settings(args.recipe)).validate()
    rows = profile(config, args.epochs)
    step = rows[0][1]
    print(f"\nOne training step of model={config.model!r}, batch {config.batch_size}, dropout "
          f"{config.resolved().dropout} ({config.batch_size / step:,.0f} images/s):\n")
    print(f"| {'part':<58} | ms per step | share of step |\n|---|---|---|")
    parts = rows[2:]
    for name, seconds in [rows[0]] + sorted(parts, key=lambda row: -row[1]):
        print(f"| {name:<58} | {seconds * 1e3:11.2f} | {seconds / step:12.1%} |")
    explained = sum(seconds for _, seconds in parts)
    print(f"| {'the rest (loss, noise, metrics, data, framework)':<58} | {(step - explained) * 1e3:11.2f} | "
          f"{(step - explained) / step:12.1%} |")


if __name__ == "__main__":
    sys.exit(main())
