"""Grading checks of a student's networks: the generator, the discriminator, their conditional forms."""

from __future__ import annotations

from typing import Callable, Sequence

import keras
import numpy as np
from keras import ops

from gan_keras._validation import check_positive_int
from gan_keras.autodiff import input_gradients, run_in_state, value_and_gradients
from gan_keras.grading.common import (
    BATCH,
    Restored,
    SEED,
    all_layers,
    batch_norm_layers,
    changed_variables,
    fake_images,
    first_line,
    model_inputs,
    quiet,
    student_call,
    variable_names,
    variable_values,
)


# The last weighted layer is scaled up this much to drive any output activation into saturation.
PROBE_SCALE = 100.0


@quiet
def check_generator(model: keras.Model, latent_dim: int, image_shape: Sequence[int]) -> dict:
    """Check an unconditional generator: shapes, tanh output, use of the noise, gradients.

    It must take noise ``[batch, latent_dim]``, return images ``[batch, *image_shape]``
    in training and inference mode, end in a tanh (outputs bounded by [-1, 1] and
    reaching both ends), give different images for different noise, let a gradient
    reach every trainable weight, and keep its batch-norm layers trainable.

    Args:
        model: the student's generator.
        latent_dim: size of the noise vector the assignment asks for.
        image_shape: shape of one image, e.g. ``(28, 28, 1)``.

    Returns:
        ``{"parameters", "output_range", "noise_spread", "batch_norm_layers"}``:
        the output range is at initialisation, the noise spread is how much the
        images vary across noise relative to their overall spread (0 = one image
        for every noise vector).
    """
    latent_dim = check_positive_int("latent_dim", latent_dim)
    image_shape = _check_shape("image_shape", image_shape)
    model = _student_model(model, "model", "generator")
    _check_input_count(model, 1, "generator",
                       "the noise z; a generator with a label input is checked by check_conditional")
    _check_input_shape(model, 0, (latent_dim,), "generator", "noise input",
                       f"start it with keras.Input(({latent_dim},))")

    rng = np.random.default_rng(SEED)
    noise = rng.standard_normal((BATCH, latent_dim)).astype("float32")
    other_noise = rng.standard_normal((BATCH, latent_dim)).astype("float32")
    with Restored(model.variables):
        images = _call(model, noise, False, "generator", f"noise of shape {noise.shape}")
        _check_output_shape(images, (BATCH, *image_shape), "generator", "images",
                            "Check the channels of the last layer and the upsampling steps (or the final Reshape).")
        _check_no_frozen_batch_norm(model, "generator")
        # First: a generator that ignores its noise gives one constant image, which has no range
        # to probe and comes out the same in training and inference mode.
        spread = _check_uses_input(model, noise, other_noise, images, "noise")
        output_range = _check_tanh_output(model, noise, images, "generator")
        _check_training_mode(model, noise, images.shape, "generator")
        _check_gradients_reach_weights(model, noise, images.shape, "generator")
        batch_norms = _check_batch_norm_trains(model, noise, "generator")
    return {
        "parameters": int(model.count_params()),
        "output_range": output_range,
        "noise_spread": spread,
        "batch_norm_layers": batch_norms,
    }


@quiet
def check_discriminator(model: keras.Model, image_shape: Sequence[int]) -> dict:
    """Check an unconditional discriminator: one logit per image, gradients to the input.

    It must take images ``[batch, *image_shape]``, return one unbounded logit
    per image (shape ``[batch, 1]`` or ``[batch]``; no sigmoid, since the losses
    apply it), let a gradient reach every input image and every trainable
    weight, run in training and inference mode (with dropout or batch norm
    active only in training), and keep its batch-norm layers trainable.

    Args:
        model: the student's discriminator.
        image_shape: shape of one image, e.g. ``(28, 28, 1)``.

    Returns:
        ``{"parameters", "logit_range", "input_gradient"}``: the logits'
        range at initialisation and the mean absolute gradient of the logits
        with respect to the input pixels.
    """
    image_shape = _check_shape("image_shape", image_shape)
    model = _student_model(model, "model", "discriminator")
    _check_input_count(model, 1, "discriminator",
                       "the images; a discriminator with a label input is checked by check_conditional")
    _check_input_shape(model, 0, image_shape, "discriminator", "image input",
                       f"start it with keras.Input({image_shape})")

    images = fake_images(image_shape)
    with Restored(model.variables):
        logits = _call(model, images, False, "discriminator", f"images of shape {images.shape}")
        _check_logit_shape(logits, BATCH, "discriminator")
        _check_no_frozen_batch_norm(model, "discriminator")
        _check_training_mode(model, images, logits.shape, "discriminator")
        _check_logits_unbounded(model, images, logits, "discriminator")
        gradient = _check_input_gradients(model, images, "discriminator")
        _check_gradients_reach_weights(model, images, logits.shape, "discriminator")
        _check_batch_norm_trains(model, images, "discriminator")
    return {
        "parameters": int(model.count_params()),
        "logit_range": (float(logits.min()), float(logits.max())),
        "input_gradient": gradient,
    }


@quiet
def check_conditional(
    generator: keras.Model,
    discriminator: keras.Model,
    num_classes: int,
    latent_dim: int,
    image_shape: Sequence[int],
) -> dict:
    """Check a class-conditional generator and discriminator (Mirza & Osindero, 2014).

    The generator must take ``[noise, labels]`` and the discriminator
    ``[images, labels]``, with integer labels in ``[0, num_classes)``; both
    must use the label (another label gives another output) as well as their
    first input; the generator ends in a tanh, the discriminator returns one
    unbounded logit per image, and gradients reach D's input images.

    Args:
        generator: the student's conditional generator.
        discriminator: the student's conditional discriminator.
        num_classes: number of classes (10 for digits).
        latent_dim: size of the noise vector.
        image_shape: shape of one image.

    Returns:
        ``{"generator_label_effect", "discriminator_label_effect",
        "output_range"}``: the mean absolute change of G's images and of D's
        logits when only the labels change.
    """
    num_classes = check_positive_int("num_classes", num_classes, minimum=2)
    latent_dim = check_positive_int("latent_dim", latent_dim)
    image_shape = _check_shape("image_shape", image_shape)
    generator = _student_model(generator, "generator", "conditional generator")
    discriminator = _student_model(discriminator, "discriminator", "conditional discriminator")
    label_hint = "add keras.Input((), dtype=\"int32\") for the labels and join an Embedding of them to the first input"
    _check_input_count(generator, 2, "conditional generator", f"[noise, labels]; {label_hint}")
    _check_input_count(discriminator, 2, "conditional discriminator", f"[images, labels]; {label_hint}")
    _check_input_shape(generator, 0, (latent_dim,), "conditional generator", "first input",
                       f"the inputs are [noise, labels], so it should be keras.Input(({latent_dim},))")
    _check_input_shape(discriminator, 0, image_shape, "conditional discriminator", "first input",
                       f"the inputs are [images, labels], so it should be keras.Input({image_shape})")
    for model, role in ((generator, "generator"), (discriminator, "discriminator")):
        for layer in all_layers(model):
            if isinstance(layer, keras.layers.Embedding) and layer.input_dim < num_classes:
                raise AssertionError(
                    f"The {role}'s Embedding layer '{layer.name}' has input_dim={layer.input_dim}, fewer than the "
                    f"{num_classes} classes: labels up to {num_classes - 1} would fall outside it. "
                    f"Use layers.Embedding({num_classes}, ...)."
                )

    rng = np.random.default_rng(SEED)
    count = 2 * num_classes
    labels = np.arange(count) % num_classes
    other_labels = (labels + 1) % num_classes
    noise = rng.standard_normal((count, latent_dim)).astype("float32")
    other_noise = rng.standard_normal((count, latent_dim)).astype("float32")
    g_labels, g_other = _labels_for(generator, labels), _labels_for(generator, other_labels)
    d_labels, d_other = _labels_for(discriminator, labels), _labels_for(discriminator, other_labels)
    images_in = fake_images(image_shape, count)

    with Restored(generator.variables + discriminator.variables):
        described = f"[noise of shape {noise.shape}, labels 0..{num_classes - 1}]"
        images = _call(generator, [noise, g_labels], False, "conditional generator", described)
        _check_output_shape(images, (count, *image_shape), "conditional generator", "images",
                            "Check the channels of the last layer and the upsampling steps (or the final Reshape).")
        _check_uses_input(generator, [noise, g_labels], [other_noise, g_labels], images, "noise")
        output_range = _check_tanh_output(generator, [noise, g_labels], images, "conditional generator")
        relabelled = _call(generator, [noise, g_other], False, "conditional generator", described)
        g_effect = float(np.mean(np.abs(relabelled - images)))
        if not g_effect > 0:
            raise AssertionError(
                "The conditional generator makes the same images whatever the labels: the label input does not "
                "reach the output. Embed the labels (layers.Embedding) and concatenate them with the noise."
            )

        described = f"[images of shape {images_in.shape}, labels 0..{num_classes - 1}]"
        logits = _call(discriminator, [images_in, d_labels], False, "conditional discriminator", described)
        _check_logit_shape(logits, count, "conditional discriminator")
        _check_logits_unbounded(discriminator, [images_in, d_labels], logits, "conditional discriminator")
        relabelled = _call(discriminator, [images_in, d_other], False, "conditional discriminator", described)
        d_effect = float(np.mean(np.abs(relabelled - logits)))
        if not d_effect > 0:
            raise AssertionError(
                "The conditional discriminator gives the same logits whatever the labels, so it cannot tell a "
                "'3' labelled 3 from a '3' labelled 7. Embed the labels and join them to the images (e.g. as an "
                "extra channel) before the first layer."
            )
        _check_input_gradients(discriminator, images_in, "conditional discriminator",
                               call=lambda x: discriminator([x, ops.convert_to_tensor(d_labels)], training=False))
    return {
        "generator_label_effect": g_effect,
        "discriminator_label_effect": d_effect,
        "output_range": output_range,
    }


def _student_model(model, argument: str, role: str) -> keras.Model:
    if model is None:
        raise AssertionError(f"`{argument}` is None: the {role} has not been built yet. Finish the TODO cell so "
                             "that it returns a keras.Model, then run this check again.")
    if not isinstance(model, keras.Model):
        raise TypeError(f"`{argument}` must be a keras.Model, got {type(model).__name__}")
    return model


def _check_shape(argument: str, shape) -> tuple[int, ...]:
    try:
        result = tuple(shape)
    except TypeError:
        raise TypeError(f"`{argument}` must be a tuple of ints, got {shape!r}") from None
    for dim in result:
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
            raise TypeError(f"`{argument}` must be a tuple of ints, got {shape!r}")
    if not result or any(dim < 1 for dim in result):
        raise ValueError(f"`{argument}` must hold positive sizes, got {result}")
    return tuple(int(dim) for dim in result)


def _check_input_count(model: keras.Model, count: int, role: str, expected: str) -> None:
    inputs = model_inputs(model)
    if inputs is not None and len(inputs) != count:
        raise AssertionError(f"The {role} takes {len(inputs)} input(s) but should take {count}: {expected}.")


def _check_input_shape(model: keras.Model, index: int, shape: tuple, role: str, what: str, fix: str) -> None:
    inputs = model_inputs(model)
    if inputs is None:
        return
    found = tuple(inputs[index].shape[1:])
    if found != tuple(shape):
        raise AssertionError(f"The {role}'s {what} has shape {(None, *found)}, expected {(None, *shape)}: {fix}.")


def _labels_for(model: keras.Model, labels: np.ndarray) -> np.ndarray:
    """Labels shaped as the model's label input declares: ``[batch]`` or ``[batch, 1]``."""
    inputs = model_inputs(model)
    if inputs is not None and len(inputs[1].shape) == 2:
        return labels.astype("int32")[:, np.newaxis]
    return labels.astype("int32")


def _call(model: keras.Model, inputs, training: bool, role: str, described: str) -> np.ndarray:
    def run():
        return model(inputs, training=training)

    try:
        outputs = run()
    except Exception as error:
        mode = "training" if training else "inference"
        raise AssertionError(f"Calling the {role} on {described} in {mode} mode raised {type(error).__name__}: "
                             f"{first_line(error)}") from error
    if isinstance(outputs, (list, tuple, dict)):
        raise AssertionError(f"The {role} returns {len(outputs)} outputs; it should return one tensor.")
    return np.asarray(ops.convert_to_numpy(outputs), dtype=np.float32)


def _check_output_shape(outputs: np.ndarray, expected: tuple, role: str, what: str, hint: str) -> None:
    if outputs.shape != tuple(expected):
        raise AssertionError(f"The {role} returns {what} of shape {outputs.shape[1:]} per input, expected "
                             f"{tuple(expected[1:])} (batch of {expected[0]}: {outputs.shape}). {hint}")


def _check_logit_shape(logits: np.ndarray, batch: int, role: str) -> None:
    if logits.shape in ((batch,), (batch, 1)):
        return
    per_image = logits.shape[1:]
    raise AssertionError(f"The {role} returns {per_image} values per image; it should return one logit per image "
                         "(shape (batch, 1)). End it with Flatten() and Dense(1).")


def _check_training_mode(model: keras.Model, inputs, shape: tuple, role: str) -> None:
    outputs = _call(model, inputs, True, role, "the same batch")
    if outputs.shape != tuple(shape):
        raise AssertionError(f"The {role} returns shape {outputs.shape} in training mode but {tuple(shape)} in "
                             "inference mode; both modes must give the same shape.")
    stochastic = [layer.name for layer in all_layers(model)
                  if isinstance(layer, keras.layers.BatchNormalization)
                  or (isinstance(layer, keras.layers.Dropout) and layer.rate > 0)]
    if stochastic and np.array_equal(outputs, _call(model, inputs, False, role, "the same batch")):
        raise AssertionError(f"The {role} gives the same output in training and inference mode although it has "
                             f"dropout or batch-norm layers ({', '.join(stochastic[:3])}): they are called with "
                             "training=False. Call the layers without a training argument; Keras passes it.")


def _last_weighted_layer(model: keras.Model):
    last = None
    for layer in all_layers(model):
        if isinstance(getattr(layer, "kernel", None), keras.Variable):
            last = layer
    return last


def _probe(model: keras.Model, inputs) -> np.ndarray:
    """The model's outputs with its last weighted layer scaled by +`PROBE_SCALE` and by -`PROBE_SCALE`.

    The output's pre-activations grow as much, with both signs, so an output
    activation shows its whole range: tanh saturates at -1 and 1, a sigmoid
    at 0 and 1, a ReLU is never negative, and a linear output grows without
    bound either way. (Without such a layer, the first input is scaled instead.)
    """
    layer = _last_weighted_layer(model)
    outputs = []
    for scale in (PROBE_SCALE, -PROBE_SCALE):
        if layer is None:
            scaled = [inputs[0] * scale, *inputs[1:]] if isinstance(inputs, list) else inputs * scale
            outputs.append(_call(model, scaled, False, "model", "scaled inputs"))
            continue
        weights = [layer.kernel] + ([layer.bias] if isinstance(getattr(layer, "bias", None), keras.Variable) else [])
        with Restored(weights):
            for weight in weights:
                weight.assign(weight.value * scale)
            outputs.append(_call(model, inputs, False, "model", "the same batch"))
    return np.concatenate(outputs, axis=0)


def _check_tanh_output(model: keras.Model, inputs, outputs: np.ndarray, role: str) -> tuple[float, float]:
    output_range = (float(outputs.min()), float(outputs.max()))
    if output_range[0] < -1 - 1e-6 or output_range[1] > 1 + 1e-6:
        raise AssertionError(f"The {role}'s outputs range over [{output_range[0]:.3g}, {output_range[1]:.3g}], "
                             "outside [-1, 1]: end it with a tanh activation, so that its images have the range "
                             "of the real images (scaled to [-1, 1]).")
    probed = _probe(model, inputs)
    low, high = float(probed.min()), float(probed.max())
    if low < -1 - 1e-6 or high > 1 + 1e-6:
        raise AssertionError(f"The {role}'s outputs are not bounded (with its last layer's weights scaled up they "
                             f"reach [{low:.3g}, {high:.3g}]): end it with a tanh activation, so that its images "
                             "stay in [-1, 1] like the real images.")
    if low > -1e-6:
        raise AssertionError(f"The {role}'s outputs are never negative (they lie in [{low:.3g}, {high:.3g}]): that is "
                             "a sigmoid or ReLU output, but the real images are scaled to [-1, 1]. End the "
                             "generator with a tanh activation.")
    if low > -0.99 or high < 0.99:
        raise AssertionError(f"The {role}'s outputs never come near -1 or 1 (at most [{low:.3g}, {high:.3g}] even "
                             "with its last layer scaled up): real images reach both ends of [-1, 1]. Use a plain "
                             "tanh, not a scaled one.")
    return output_range


def ends_in_sigmoid(model: keras.Model, inputs) -> bool:
    """Whether `model` outputs probabilities: its outputs on `inputs` stay in
    [0, 1] even with its last weighted layer scaled up a thousandfold, both
    ways (`_probe`), as only a sigmoid (or a softmax) at its end keeps them.

    A loss on logits (``from_logits=True``, every `GANLoss` but LSGAN's and
    WGAN's) would apply the sigmoid a second time. Used by the grading
    checks and by `GAN.fit`, which warns once.

    Args:
        model: a discriminator (any built Keras model).
        inputs: a batch it accepts (images, or ``[images, labels]``).
    """
    return _outputs_are_probabilities(_probe(model, inputs))


def _outputs_are_probabilities(probed: np.ndarray) -> bool:
    return float(probed.min()) >= 0 and float(probed.max()) <= 1 + 1e-6


def _check_logits_unbounded(model: keras.Model, inputs, logits: np.ndarray, role: str) -> None:
    probed = _probe(model, inputs)
    low, high = float(probed.min()), float(probed.max())
    if _outputs_are_probabilities(probed):
        raise AssertionError(f"The {role} ends in a sigmoid: its outputs are probabilities in [0, 1], and a loss "
                             "on logits (from_logits=True) would apply the sigmoid a second time. Remove the "
                             "activation of the last Dense layer so that it outputs a logit.")
    if high <= 1 + 1e-6 and low >= -1 - 1e-6:
        raise AssertionError(f"The {role}'s outputs are bounded (within [{low:.3g}, {high:.3g}] even with its last "
                             "layer scaled up): an activation (tanh?) ends it. Remove it so that it outputs an "
                             "unbounded logit.")
    if low >= 0:
        raise AssertionError(f"The {role}'s outputs are never negative (ReLU on the last layer?), so it can never "
                             "call an image fake with confidence. Remove the activation of the last Dense layer.")


def _check_uses_input(model: keras.Model, inputs, other_inputs, outputs: np.ndarray, what: str) -> float:
    others = _call(model, other_inputs, False, "generator", f"other {what}")
    if np.array_equal(others, outputs):
        raise AssertionError(f"The generator makes the same image whatever the {what}: the {what} does not reach "
                             f"the output. Build every layer on the {what} input (not on a constant or a fresh "
                             "Input), and do not multiply it by zero.")
    spread = float(np.mean(outputs.std(axis=0)) / (np.std(outputs) + 1e-12))
    if spread < 0.01:
        raise AssertionError(f"The generator's images barely change with the {what} (their spread across {what} "
                             f"vectors is {spread:.2%} of their overall spread): it has collapsed before training. "
                             f"Feed the {what} to the first layer at full scale.")
    return spread


def _check_gradients_reach_weights(model: keras.Model, inputs, output_shape: tuple, role: str) -> None:
    variables = list(model.trainable_variables)
    if not variables:
        raise AssertionError(f"The {role} has no trainable weights: it cannot learn. Leave its layers trainable.")
    # A fixed random weighting of the outputs, so that no gradient cancels by symmetry.
    projection = ops.convert_to_tensor(
        np.random.default_rng(SEED + 2).standard_normal(output_shape).astype("float32"))

    def loss_fn():
        outputs = model(inputs, training=False)
        return ops.sum(ops.reshape(outputs, output_shape) * projection), None

    def compute():
        _, _, gradients = value_and_gradients(loss_fn, variables)
        return gradients

    gradients = student_call(lambda: run_in_state(model, compute), f"a gradient through the {role}")
    unreached = [variable for variable, gradient in zip(variables, gradients)
                 if gradient is None or not np.any(ops.convert_to_numpy(gradient))]
    if unreached:
        raise AssertionError(f"No gradient reaches these weights of the {role}: {variable_names(unreached)}. Something "
                             "between them and the output blocks it (stop_gradient, a cast to int, round or "
                             "argmax), or they are not connected to the output.")


def _check_input_gradients(model: keras.Model, images: np.ndarray, role: str, call: Callable | None = None) -> float:
    call = call or (lambda x: model(x, training=False))
    # `0 * sum(x)` keeps the images in the graph: a model that cuts them off then gets a zero
    # gradient on every backend (PyTorch would otherwise raise).
    gradients = student_call(lambda: input_gradients(lambda x: ops.sum(call(x)) + 0.0 * ops.sum(x),
                                                      ops.convert_to_tensor(images)),
                              f"a gradient through the {role} to its input")
    gradients = np.zeros_like(images) if gradients is None else np.asarray(ops.convert_to_numpy(gradients))
    per_image = np.abs(gradients.reshape(len(images), -1)).max(axis=1)
    if not np.all(per_image > 0):
        raise AssertionError(f"No gradient reaches the {role}'s input images, so G could not learn from D. "
                             "Remove what blocks it between the input and the output (stop_gradient, a cast to "
                             "int, round, or reading the images as NumPy).")
    return float(np.mean(np.abs(gradients)))


def _check_no_frozen_batch_norm(model: keras.Model, role: str) -> None:
    frozen = [layer.name for layer in all_layers(model)
              if isinstance(layer, keras.layers.BatchNormalization) and not layer.trainable]
    if frozen:
        raise AssertionError(f"The {role}'s batch-norm layer(s) {', '.join(frozen)} are frozen (trainable=False): "
                             "they never learn their scale and offset nor update their statistics. Leave them "
                             "trainable.")


def _check_batch_norm_trains(model: keras.Model, inputs, role: str) -> int:
    _check_no_frozen_batch_norm(model, role)
    norms = batch_norm_layers(model)  # all of them: a frozen one has raised above
    if norms:
        statistics = [layer.moving_mean for layer in norms]
        before = variable_values(statistics)
        _call(model, inputs, True, role, "the same batch")
        changed = {id(variable) for variable in changed_variables(statistics, before)}
        stuck = [layer.name for layer in norms if id(layer.moving_mean) not in changed]
        if stuck:
            raise AssertionError(f"The {role}'s batch-norm layer(s) {', '.join(stuck)} never update their "
                                 "moving statistics in training mode (momentum=1.0?), so inference would always "
                                 "normalise with the initial ones. Keep the default momentum (0.99).")
    return len(norms)
