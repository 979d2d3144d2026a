"""Grading checks of a student's training: one `train_step` (`check_train_step`), a short run (`check_learns`)."""

from __future__ import annotations

import math
import time
from typing import Any, Callable

import keras
import numpy as np
from keras import ops

from gan_keras._validation import check_positive_int
from gan_keras.grading.common import (
    Restored,
    all_layers,
    batch_norm_layers,
    changed_variables,
    fake_images,
    model_inputs,
    quiet,
    student_call,
    student_function,
    variable_names,
    variable_values,
)
from gan_keras.grading.losses import as_gan_loss, fixed_logits, loss_value


@quiet
def check_train_step(gan: Any, real_images=None, labels=None) -> dict:
    """Check that D's update changes only D and G's update changes only G.

    Works with a `gan_keras.GAN` (compiled) and with any object that has
    ``generator`` and ``discriminator`` models and either the two update
    methods ``discriminator_step(real_images[, labels])`` and
    ``generator_step(batch_size[, labels])`` or one ``train_step(data)``
    (a Keras ``train_step`` on TensorFlow or PyTorch; ``data`` is the batch,
    or ``(images, labels)``). With the two methods each is checked on its
    own; with ``train_step`` only that both networks change. Every weight,
    statistic and optimizer slot is put back afterwards.

    Args:
        gan: the student's GAN.
        real_images: a batch of real images; by default 8 seeded images of
            the generator's output shape, uniform in [-1, 1].
        labels: class labels for a conditional GAN; by default 0, 1, 2, ...

    Returns:
        ``{"d_variables_updated", "g_variables_updated", "d_loss", "g_loss"}``:
        how many trainable variables each update changed, and the losses
        the steps returned (``None`` where a step returned none).
    """
    if gan is None:
        raise AssertionError("`gan` is None: the GAN has not been created yet. Finish the TODO cell "
                             "(create the GAN and compile it with your losses), then run this check again.")
    generator, discriminator = getattr(gan, "generator", None), getattr(gan, "discriminator", None)
    if not isinstance(generator, keras.Model) or not isinstance(discriminator, keras.Model):
        raise TypeError(f"`gan` must have `generator` and `discriminator` attributes that are keras.Models, "
                        f"got a {type(gan).__name__}")
    two_steps = callable(getattr(gan, "discriminator_step", None)) and callable(getattr(gan, "generator_step", None))
    if not two_steps and not callable(getattr(gan, "train_step", None)):
        raise TypeError("`gan` must have the methods `discriminator_step` and `generator_step`, or `train_step`")
    from gan_keras.gan import GAN

    if isinstance(gan, GAN) and not hasattr(gan, "gan_loss"):
        raise AssertionError("The GAN is not compiled: call gan.compile(g_optimizer=..., d_optimizer=..., "
                             "loss=...) before training it.")

    inputs = model_inputs(generator)
    conditional = inputs is not None and len(inputs) == 2
    real_images, labels, batch_size = _training_batch(generator, real_images, labels, conditional)
    # Tensors, not NumPy arrays: Keras refuses a mix of both in one call ([images, labels]).
    real_images = ops.convert_to_tensor(real_images)
    labels = None if labels is None else ops.convert_to_tensor(labels)
    watched = generator.variables + discriminator.variables
    if isinstance(gan, keras.Model):
        watched = watched + gan.variables  # seed generators, metrics
    watched = watched + _optimizer_variables(gan)

    with Restored(watched):
        g_weights, d_weights = generator.trainable_variables, discriminator.trainable_variables
        if not two_steps:
            data = real_images if labels is None else (real_images, labels)
            g_before, d_before = variable_values(g_weights), variable_values(d_weights)
            logs = student_call(lambda: gan.train_step(data), "train_step(data)")
            g_changed, d_changed = changed_variables(g_weights, g_before), changed_variables(d_weights, d_before)
            if not d_changed:
                raise AssertionError("After one train_step the discriminator's weights are unchanged: apply the "
                                     "gradients of D's loss to discriminator.trainable_variables.")
            if not g_changed:
                raise AssertionError("After one train_step the generator's weights are unchanged: the generated "
                                     "images must reach G's loss undetached (no stop_gradient, .numpy() or "
                                     "predict), and G's gradients must be applied to generator.trainable_variables.")
            return {"d_variables_updated": len(d_changed), "g_variables_updated": len(g_changed),
                    "d_loss": _logged(logs, "d_loss"), "g_loss": _logged(logs, "g_loss")}

        g_before, d_before = variable_values(g_weights), variable_values(d_weights)
        d_args = (real_images,) if labels is None else (real_images, labels)
        d_logs = student_call(lambda: gan.discriminator_step(*d_args), "discriminator_step")
        d_changed, g_changed = changed_variables(d_weights, d_before), changed_variables(g_weights, g_before)
        if not d_changed:
            raise AssertionError("The discriminator step left D's weights unchanged: take the gradient of D's loss "
                                 "with respect to discriminator.trainable_variables and apply it with D's optimizer.")
        if g_changed:
            raise AssertionError(f"The discriminator step changed the generator's weights ({variable_names(g_changed)}): "
                                 "hold G fixed there (stop_gradient on the generated images) and apply D's "
                                 "gradients to discriminator.trainable_variables only.")
        _check_logged_loss(d_logs, "d_loss", "discriminator step")

        g_before, d_before = variable_values(g_weights), variable_values(d_weights)
        statistics = [layer.moving_mean for layer in batch_norm_layers(generator)]
        statistics_before = variable_values(statistics)
        g_args = (batch_size,) if labels is None else (batch_size, labels)
        g_logs = student_call(lambda: gan.generator_step(*g_args), "generator_step")
        d_changed_by_g, g_changed = changed_variables(d_weights, d_before), changed_variables(g_weights, g_before)
        if not g_changed:
            raise AssertionError("The generator step left G's weights unchanged: G's loss gets no gradient. Keep "
                                 "the generated images attached (no stop_gradient, .numpy() or predict between G "
                                 "and D) and apply G's gradients to generator.trainable_variables.")
        if d_changed_by_g:
            raise AssertionError(f"The generator step changed the discriminator's weights "
                                 f"({variable_names(d_changed_by_g)}): D is only the judge there. Apply G's gradients to "
                                 "generator.trainable_variables only.")
        if statistics and not changed_variables(statistics, statistics_before):
            raise AssertionError("The generator step ran G in inference mode: its batch-norm statistics did not "
                                 "change. Call the generator with training=True inside the training step.")
        _check_logged_loss(g_logs, "g_loss", "generator step")
    return {"d_variables_updated": len(d_changed), "g_variables_updated": len(g_changed),
            "d_loss": _logged(d_logs, "d_loss"), "g_loss": _logged(g_logs, "g_loss")}


@quiet
def check_learns(
    discriminator_loss: Callable,
    generator_loss: Callable,
    min_modes: int = 4,
    *,
    modes: int = 8,
    epochs: int = 20,
    seed: int = 0,
) -> dict:
    """Train a small GAN with the student's losses on a ring of Gaussians and count the modes it covers.

    The recipe is `gan_keras.teaching.toy.train_ring_gan` made smaller (4,096 points,
    two hidden layers of 128 units, batches of 128): 20 epochs took 2 to 4
    seconds on a 2-core CPU. With the non-saturating losses it covered 7
    or 8 of the 8 modes on each of the seeds 0-7 (the default `min_modes`
    of 4 leaves room for another machine's rounding). Losses that push D or
    G the wrong way (swapped labels, a G loss with target 0, a negated D
    loss, a detached G loss) covered none on seeds 0-2; losses that are
    wrong but still push the right way (the minimax G loss, a sigmoid
    applied twice) pass here and are caught by the loss checks.

    Args:
        discriminator_loss: ``f(real_logits, fake_logits) -> scalar``.
        generator_loss: ``f(fake_logits) -> scalar``.
        min_modes: modes the generator's samples must cover (see
            `gan_keras.teaching.toy.count_modes`).
        modes: Gaussians on the ring.
        epochs: passes over the 4,096 ring points.
        seed: seeds the data, the weights and the noise.

    Returns:
        ``{"modes_covered", "modes", "high_quality_share", "seconds"}``.
    """
    modes = check_positive_int("modes", modes)
    min_modes = check_positive_int("min_modes", min_modes)
    if min_modes > modes:
        raise ValueError(f"`min_modes` must be at most `modes` ({modes}), got {min_modes}")
    epochs = check_positive_int("epochs", epochs)
    discriminator_loss = student_function(discriminator_loss, "discriminator_loss")
    generator_loss = student_function(generator_loss, "generator_loss")
    real, fake = fixed_logits()
    loss_value(discriminator_loss, "discriminator_loss", (real, fake))
    loss_value(generator_loss, "generator_loss", (fake,))

    from gan_keras.teaching.toy import train_ring_gan

    start = time.perf_counter()
    run = student_call(
        lambda: train_ring_gan(as_gan_loss(discriminator_loss, generator_loss), epochs=epochs, seed=seed,
                               modes=modes, n=4096, hidden_units=(128, 128), batch_size=128),
        "a training run with your losses",
        hint="Write the losses with keras.ops or TensorFlow operations: they run inside a compiled training step.",
    )
    seconds = time.perf_counter() - start
    losses = {key: values[-1] for key, values in run.history.items() if key.endswith("loss")}
    if not all(math.isfinite(value) for value in losses.values()):
        raise AssertionError(f"Training with your losses diverged (last losses {losses}). Compute the "
                             "cross-entropies from logits (from_logits=True) rather than log(sigmoid(x)).")
    if run.modes_covered < min_modes:
        raise AssertionError(
            f"A GAN trained with your losses for {epochs} epochs on a ring of {modes} Gaussians covers "
            f"{run.modes_covered} of the {modes} modes; correct losses cover at least {min_modes} in this run. "
            "Run check_discriminator_loss and check_generator_loss: one of the losses pushes the wrong way."
        )
    return {"modes_covered": run.modes_covered, "modes": modes,
            "high_quality_share": run.modes["high_quality_share"], "seconds": seconds}


def _training_batch(generator: keras.Model, real_images, labels, conditional: bool):
    image_shape = tuple(generator.outputs[0].shape[1:]) if model_inputs(generator) is not None else None
    if real_images is None:
        if image_shape is None:
            raise ValueError("`real_images` must be given for a generator without a defined output shape")
        real_images = fake_images(image_shape, 8)
    real_images = np.asarray(real_images, dtype=np.float32)
    if image_shape is not None and tuple(real_images.shape[1:]) != image_shape:
        raise ValueError(f"`real_images` must have the generator's image shape {image_shape} per image, "
                         f"got {tuple(real_images.shape[1:])}")
    batch_size = int(real_images.shape[0])
    if conditional:
        if labels is None:
            num_classes = next((layer.input_dim for layer in all_layers(generator)
                                if isinstance(layer, keras.layers.Embedding)), 2)
            labels = np.arange(batch_size) % num_classes
        labels = np.asarray(labels, dtype=np.int32)
        if labels.shape[0] != batch_size:
            raise ValueError(f"`labels` must hold one label per image ({batch_size}), got shape {labels.shape}")
    elif labels is not None:
        raise ValueError("`labels` were given but the generator is not conditional (it takes one input)")
    return real_images, labels, batch_size


def _optimizer_variables(gan) -> list:
    variables = []
    for name in ("g_optimizer", "d_optimizer", "generator_optimizer", "discriminator_optimizer", "optimizer"):
        optimizer = getattr(gan, name, None)
        found = getattr(optimizer, "variables", None)
        if isinstance(found, (list, tuple)):
            variables.extend(variable for variable in found if isinstance(variable, keras.Variable))
    return variables


def _logged(logs, key: str):
    if isinstance(logs, dict) and key in logs:
        try:
            return float(ops.convert_to_numpy(logs[key]))
        except (TypeError, ValueError):
            return None
    return None


def _check_logged_loss(logs, key: str, what: str) -> None:
    value = _logged(logs, key)
    if value is not None and not math.isfinite(value):
        raise AssertionError(f"The {what} returned {key} = {value}: compute the cross-entropies from logits "
                             "(from_logits=True) rather than log(sigmoid(x)).")
