"""Checks that grade a student's GAN: generator, discriminator, losses and training step.

Used by the assignment kit in `assignments/`: `gan_assignment_student.ipynb`
has a TODO cell for each task (build G, build D, write the two losses, train,
make the GIF) followed by a check cell that calls one function from here, and
`gan_assignment_teacher.ipynb` holds the reference solutions.

Every check is a plain function. It raises an `AssertionError` whose message
tells the student in one or two sentences what is wrong and how to fix it, and
returns a small report (a dict) when all is well. So a check is, unchanged:

- an nbgrader autograder test cell: the cell passes when it raises nothing,
  and its points are in the cell's ``nbgrader`` metadata (the teacher
  notebook carries that metadata);
- an otter-grader test case: a ``@test_case`` function that calls the check
  (``assignments/otter/tests/`` has one test file per check); otter shows the
  student the message of the `AssertionError`.

Mistakes that are the teacher's (an `image_shape` with a zero, a `latent_dim`
that is not an int, a model argument that is not a `keras.Model`) raise
`TypeError` or `ValueError` naming the argument instead. ``None`` in place of a
student's model or function is unfinished work, and fails its check with an
`AssertionError` like any other student mistake.

The checks are seeded (their inputs come from a fixed NumPy generator), take
seconds on a CPU and put back every weight, batch-norm statistic and
optimizer slot they change, so running one does not alter the training that
follows. `check_learns` is the exception: it trains a GAN of its own, and
seeds Keras globally to do so. Gradients are taken with the package's
backend-neutral helpers (`gan_keras.autodiff`), so the checks run on
TensorFlow, JAX and PyTorch; the test suite runs them on TensorFlow.

Student losses follow the TensorFlow DCGAN tutorial: ``discriminator_loss(
real_logits, fake_logits)`` and ``generator_loss(fake_logits)`` take D's
logits (shape ``[batch, 1]``) and return a scalar, the mean over the batch.
`as_gan_loss` turns such a pair into the `GANLoss` that `GAN.compile` takes.
"""

from __future__ import annotations

import functools
import math
import os
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import keras
import numpy as np
from keras import ops

from gan_keras._validation import check_choice, check_positive_int
from gan_keras.autodiff import input_gradients, run_in_state, value_and_gradients
from gan_keras.losses import GANLoss

# Every input a check feeds a model or a loss comes from this seed.
SEED = 0
# Images or noise vectors per forward pass: enough to see a batch's spread, small enough to be instant.
BATCH = 16
# A student's float32 loss computed another valid way (keras.losses, tf.nn, keras.ops)
# agrees with the closed form to about 1e-6; these tolerances leave room for that only.
RTOL, ATOL = 1e-4, 1e-5
# The last weighted layer is scaled up this much to drive any output activation into saturation.
PROBE_SCALE = 100.0
GENERATOR_LOSS_KINDS = ("non_saturating", "minimax")
# The top of a `TrainingGIF` frame that holds its title ("epoch 3"), which changes even when G does not.
TITLE_SHARE = 0.15
# What Keras warns, on TensorFlow only, when BinaryCrossentropy(from_logits=True) is given a sigmoid's
# output; it then quietly uses the sigmoid's input instead, so the loss *looks* right there.
SIGMOID_BEFORE_FROM_LOGITS = "received `from_logits=True`, but the `output` argument was produced by a"
ONLY_LOOKS_RIGHT_ON_TENSORFLOW = (
    " (TensorFlow quietly undoes a keras.ops.sigmoid given to a from_logits=True loss, so it can look right "
    "there; on JAX and PyTorch it trains another game.)")


def _quiet(check: Callable) -> Callable:
    """Run a check with Python warnings captured instead of printed.

    nbgrader gives 0 points to a graded cell that writes anything to stderr,
    so a warning raised by the student's code (or by Keras about it) would
    cost points the check did not take. The warnings' first lines go into the
    report, under ``"warnings"``.
    """
    @functools.wraps(check)
    def quiet_check(*args, **kwargs):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            report = check(*args, **kwargs)
        if caught and isinstance(report, dict):
            report["warnings"] = sorted({_first_line(warning.message) for warning in caught})
        return report

    return quiet_check


# ---------------------------------------------------------------- generator
@_quiet
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
    with _Restored(model.variables):
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


# ------------------------------------------------------------ discriminator
@_quiet
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

    images = _fake_images(image_shape)
    with _Restored(model.variables):
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


# -------------------------------------------------------------- conditional
@_quiet
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
        for layer in _all_layers(model):
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
    images_in = _fake_images(image_shape, count)

    with _Restored(generator.variables + discriminator.variables):
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


# ------------------------------------------------------------------- losses
@_quiet
def check_discriminator_loss(fn: Callable) -> dict:
    """Check ``discriminator_loss(real_logits, fake_logits)`` against the closed form.

    The expected value is binary cross-entropy on logits with targets 1 for
    real and 0 for fake images, each term averaged over its batch:
    ``mean(softplus(-real_logits)) + mean(softplus(fake_logits))``, i.e.
    ``-mean log D(x) - mean log(1 - D(G(z)))`` with ``D = sigmoid(logit)``.
    Its gradient with respect to the logits must match too. A wrong value is
    diagnosed: summed instead of averaged, swapped labels, a sigmoid applied
    twice, logits read as probabilities, a flipped sign, a missing term.

    Args:
        fn: the student's function; it gets two float32 tensors ``[8, 1]``.

    Returns:
        ``{"loss", "expected"}`` on the check's fixed logits.
    """
    fn = _student_function(fn, "discriminator_loss")
    real, fake = _fixed_logits()
    expected = _mean_softplus(-real) + _mean_softplus(fake)
    candidates = {
        "swapped": _mean_softplus(real) + _mean_softplus(-fake),
        "sigmoid twice": _mean_softplus(-_sigmoid(real)) + _mean_softplus(_sigmoid(fake)),
        "logits as probabilities": _bce_on_probabilities(real, 1.0) + _bce_on_probabilities(fake, 0.0),
        "negated": -expected,
        "average of the two terms": expected / 2,
        "real term only": _mean_softplus(-real),
        "fake term only": _mean_softplus(fake),
    }
    diagnoses = {
        "swapped": "gives real images the target 0 and generated ones the target 1: the labels are swapped. "
                   "D should call real images real: BCE(ones, real_logits) + BCE(zeros, fake_logits).",
        "sigmoid twice": "applies a sigmoid to the logits and then a loss that applies it again "
                         "(from_logits=True), so the sigmoid is applied twice. Pass the raw logits to "
                         "BinaryCrossentropy(from_logits=True)." + ONLY_LOOKS_RIGHT_ON_TENSORFLOW,
        "logits as probabilities": "reads the logits as probabilities (from_logits=False), but the "
                                   "discriminator outputs logits. Use BinaryCrossentropy(from_logits=True).",
        "negated": "is the negative of the cross-entropy. D minimises its loss, so return "
                   "real_loss + fake_loss, not its negative.",
        "average of the two terms": "is half the expected value: it averages the real and the fake term (or "
                                    "one cross-entropy over the joined batch). Return real_loss + fake_loss, each "
                                    "averaged over its own batch.",
        "real term only": "only scores the real images. Add the fake term, BCE(zeros, fake_logits).",
        "fake term only": "only scores the generated images. Add the real term, BCE(ones, real_logits).",
    }
    value = _check_loss(fn, "discriminator_loss", (real, fake), expected, candidates, diagnoses,
                        "binary cross-entropy with targets 1 (real) and 0 (fake) on logits gives",
                        "Compute BCE(ones, real_logits) + BCE(zeros, fake_logits) with "
                        "keras.losses.BinaryCrossentropy(from_logits=True).")
    expected_gradients = (-_sigmoid(-real) / len(real), _sigmoid(fake) / len(fake))
    _check_loss_gradients(fn, "discriminator_loss", (real, fake), expected_gradients)
    return {"loss": value, "expected": expected}


@_quiet
def check_generator_loss(fn: Callable, kind: str = "non_saturating") -> dict:
    """Check ``generator_loss(fake_logits)`` against the closed form.

    Args:
        fn: the student's function; it gets one float32 tensor ``[8, 1]``.
        kind: which loss the assignment asks for: ``"non_saturating"``,
            ``-mean log D(G(z)) = mean(softplus(-fake_logits))`` (Goodfellow
            et al., 2014, section 3), or ``"minimax"``,
            ``mean log(1 - D(G(z))) = -mean(softplus(fake_logits))``, which G
            minimises in the original game.

    A wrong value is diagnosed: the other kind, summed instead of averaged,
    target 0 instead of 1, a sigmoid applied twice, logits read as
    probabilities, a flipped sign. A right value with no gradient means the
    logits were detached (``stop_gradient``, ``.numpy()``).

    Returns:
        ``{"loss", "expected", "kind"}`` on the check's fixed logits.
    """
    check_choice("kind", kind, GENERATOR_LOSS_KINDS)
    fn = _student_function(fn, "generator_loss")
    _, fake = _fixed_logits()
    non_saturating = _mean_softplus(-fake)
    minimax = -_mean_softplus(fake)
    if kind == "non_saturating":
        expected, closed_form = non_saturating, "-log D(G(z)), i.e. BCE(ones, fake_logits), gives"
        candidates = {
            "minimax": minimax,
            "target 0": -minimax,
            "sigmoid twice": _mean_softplus(-_sigmoid(fake)),
            "logits as probabilities": _bce_on_probabilities(fake, 1.0),
            "negated": -non_saturating,
        }
        diagnoses = {
            "minimax": "is the minimax loss log(1 - D(G(z))) where the non-saturating -log D(G(z)) is asked: "
                       "the minimax loss gives G almost no gradient while D rejects its images. "
                       "Return BCE(ones, fake_logits).",
            "target 0": "gives the generated images the target 0, which teaches G to be caught. G wants D to "
                        "call its images real: BCE(ones, fake_logits).",
            "sigmoid twice": "applies a sigmoid to the logits and then a loss that applies it again "
                             "(from_logits=True). Pass the raw logits to BinaryCrossentropy(from_logits=True)."
                             + ONLY_LOOKS_RIGHT_ON_TENSORFLOW,
            "logits as probabilities": "reads the logits as probabilities (from_logits=False). "
                                       "Use BinaryCrossentropy(from_logits=True).",
            "negated": "has the wrong sign: it is +log D(G(z)). G minimises -log D(G(z)) = BCE(ones, fake_logits).",
        }
        expected_gradient = -_sigmoid(-fake) / len(fake)
        advice = "Compute BCE(ones, fake_logits) with keras.losses.BinaryCrossentropy(from_logits=True)."
    else:
        expected, closed_form = minimax, "log(1 - D(G(z))), i.e. -BCE(zeros, fake_logits), gives"
        candidates = {
            "non_saturating": non_saturating,
            "negated": -minimax,
            "sigmoid twice": -_mean_softplus(_sigmoid(fake)),
            "logits as probabilities": -_bce_on_probabilities(fake, 0.0),
        }
        diagnoses = {
            "non_saturating": "is the non-saturating loss -log D(G(z)) where the minimax log(1 - D(G(z))) is "
                              "asked. Return -BCE(zeros, fake_logits).",
            "negated": "has the wrong sign: it is -log(1 - D(G(z))) = BCE(zeros, fake_logits), which D, not G, "
                       "minimises. G minimises log(1 - D(G(z))) = -BCE(zeros, fake_logits).",
            "sigmoid twice": "applies a sigmoid to the logits and then a loss that applies it again "
                             "(from_logits=True). Pass the raw logits to BinaryCrossentropy(from_logits=True)."
                             + ONLY_LOOKS_RIGHT_ON_TENSORFLOW,
            "logits as probabilities": "reads the logits as probabilities (from_logits=False). "
                                       "Use BinaryCrossentropy(from_logits=True).",
        }
        expected_gradient = -_sigmoid(fake) / len(fake)
        advice = "Compute -BCE(zeros, fake_logits) with keras.losses.BinaryCrossentropy(from_logits=True)."
    value = _check_loss(fn, "generator_loss", (fake,), expected, candidates, diagnoses, closed_form, advice)
    _check_loss_gradients(fn, "generator_loss", (fake,), (expected_gradient,))
    return {"loss": value, "expected": expected, "kind": kind}


def as_gan_loss(discriminator_loss: Callable, generator_loss: Callable, name: str = "student") -> GANLoss:
    """Wrap a student's two losses as the `GANLoss` that ``GAN.compile(loss=...)`` takes.

    `GAN` expects per-example losses and averages them over the batch; a
    student's loss is already the batch mean, so it is spread evenly over the
    batch (the average of a constant is that constant, and so is its gradient).

    Args:
        discriminator_loss: ``f(real_logits, fake_logits) -> scalar``.
        generator_loss: ``f(fake_logits) -> scalar``.
        name: the loss's name (shown in the GAN's compile config).

    Returns:
        A `gan_keras.losses.GANLoss`.
    """
    for argument, fn in (("discriminator_loss", discriminator_loss), ("generator_loss", generator_loss)):
        if not callable(fn):
            raise TypeError(f"`{argument}` must be a function, got {type(fn).__name__}")

    def per_example_discriminator(real_logits, fake_logits, label_smoothing=0.0):
        if label_smoothing:
            raise ValueError("a student's discriminator_loss takes no label smoothing: compile with label_smoothing=0")
        return _spread(discriminator_loss(real_logits, fake_logits), fake_logits)

    def per_example_generator(fake_logits):
        return _spread(generator_loss(fake_logits), fake_logits)

    return GANLoss(name, per_example_discriminator, per_example_generator)


# ------------------------------------------------------------- training step
@_quiet
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

    inputs = _model_inputs(generator)
    conditional = inputs is not None and len(inputs) == 2
    real_images, labels, batch_size = _training_batch(generator, real_images, labels, conditional)
    # Tensors, not NumPy arrays: Keras refuses a mix of both in one call ([images, labels]).
    real_images = ops.convert_to_tensor(real_images)
    labels = None if labels is None else ops.convert_to_tensor(labels)
    watched = generator.variables + discriminator.variables
    if isinstance(gan, keras.Model):
        watched = watched + gan.variables  # seed generators, metrics
    watched = watched + _optimizer_variables(gan)

    with _Restored(watched):
        g_weights, d_weights = generator.trainable_variables, discriminator.trainable_variables
        if not two_steps:
            data = real_images if labels is None else (real_images, labels)
            g_before, d_before = _values(g_weights), _values(d_weights)
            logs = _student_call(lambda: gan.train_step(data), "train_step(data)")
            g_changed, d_changed = _changed(g_weights, g_before), _changed(d_weights, d_before)
            if not d_changed:
                raise AssertionError("After one train_step the discriminator's weights are unchanged: apply the "
                                     "gradients of D's loss to discriminator.trainable_variables.")
            if not g_changed:
                raise AssertionError("After one train_step the generator's weights are unchanged: the generated "
                                     "images must reach G's loss undetached (no stop_gradient, .numpy() or "
                                     "predict), and G's gradients must be applied to generator.trainable_variables.")
            return {"d_variables_updated": len(d_changed), "g_variables_updated": len(g_changed),
                    "d_loss": _logged(logs, "d_loss"), "g_loss": _logged(logs, "g_loss")}

        g_before, d_before = _values(g_weights), _values(d_weights)
        d_args = (real_images,) if labels is None else (real_images, labels)
        d_logs = _student_call(lambda: gan.discriminator_step(*d_args), "discriminator_step")
        d_changed, g_changed = _changed(d_weights, d_before), _changed(g_weights, g_before)
        if not d_changed:
            raise AssertionError("The discriminator step left D's weights unchanged: take the gradient of D's loss "
                                 "with respect to discriminator.trainable_variables and apply it with D's optimizer.")
        if g_changed:
            raise AssertionError(f"The discriminator step changed the generator's weights ({_names(g_changed)}): "
                                 "hold G fixed there (stop_gradient on the generated images) and apply D's "
                                 "gradients to discriminator.trainable_variables only.")
        _check_logged_loss(d_logs, "d_loss", "discriminator step")

        g_before, d_before = _values(g_weights), _values(d_weights)
        statistics = _batch_norm_statistics(generator)
        statistics_before = _values(statistics)
        g_args = (batch_size,) if labels is None else (batch_size, labels)
        g_logs = _student_call(lambda: gan.generator_step(*g_args), "generator_step")
        d_changed_by_g, g_changed = _changed(d_weights, d_before), _changed(g_weights, g_before)
        if not g_changed:
            raise AssertionError("The generator step left G's weights unchanged: G's loss gets no gradient. Keep "
                                 "the generated images attached (no stop_gradient, .numpy() or predict between G "
                                 "and D) and apply G's gradients to generator.trainable_variables.")
        if d_changed_by_g:
            raise AssertionError(f"The generator step changed the discriminator's weights "
                                 f"({_names(d_changed_by_g)}): D is only the judge there. Apply G's gradients to "
                                 "generator.trainable_variables only.")
        if statistics and not _changed(statistics, statistics_before):
            raise AssertionError("The generator step ran G in inference mode: its batch-norm statistics did not "
                                 "change. Call the generator with training=True inside the training step.")
        _check_logged_loss(g_logs, "g_loss", "generator step")
    return {"d_variables_updated": len(d_changed), "g_variables_updated": len(g_changed),
            "d_loss": _logged(d_logs, "d_loss"), "g_loss": _logged(g_logs, "g_loss")}


# ------------------------------------------------------------------ learning
@_quiet
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

    The recipe is `gan_keras.toy.train_ring_gan` made smaller (4,096 points,
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
            `gan_keras.toy.count_modes`).
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
    discriminator_loss = _student_function(discriminator_loss, "discriminator_loss")
    generator_loss = _student_function(generator_loss, "generator_loss")
    real, fake = _fixed_logits()
    _loss_value(discriminator_loss, "discriminator_loss", (real, fake))
    _loss_value(generator_loss, "generator_loss", (fake,))

    from gan_keras.toy import train_ring_gan

    start = time.perf_counter()
    run = _student_call(
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


# ----------------------------------------------------------------------- GIF
@_quiet
def check_training_gif(path: str | os.PathLike, min_frames: int = 2) -> dict:
    """Check the GIF a `gan_keras.TrainingGIF` callback wrote: it exists and shows G changing.

    Args:
        path: where the GIF should be.
        min_frames: frames it must have (one per saved epoch).

    Returns:
        ``{"frames", "height", "width", "change"}``: the change is the mean
        absolute difference between the first and the last frame below
        their titles, in pixel values 0-255.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"`path` must be a str or a path, got {type(path).__name__}")
    min_frames = check_positive_int("min_frames", min_frames)
    if not os.path.isfile(path):
        # TrainingGIF saves a grid after every epoch and writes the GIF when fit ends.
        grids = sorted(Path(path).parent.glob("*/epoch_*.png"))
        if grids:
            raise AssertionError(
                f"There is no GIF at {os.fspath(path)}, but {len(grids)} epoch grid(s) were saved in "
                f"{grids[0].parent}: training started and was stopped before fit finished (the GIF is written "
                "at the end). A grader's cell time-out does this: nbgrader stops a cell after 30 s unless "
                "c.Execute.timeout is raised. Let the training cell run to the end.")
        raise AssertionError(f"There is no GIF at {os.fspath(path)}: train with a gan_keras.TrainingGIF callback "
                             "(callbacks=[TrainingGIF(..., gif_path=GIF_PATH)]) so that fit writes it.")
    import imageio.v3 as iio

    try:
        frames = iio.imread(path, index=None)
    except Exception as error:
        raise AssertionError(f"{os.fspath(path)} could not be read as a GIF ({type(error).__name__}: "
                             f"{_first_line(error)}). Let TrainingGIF write it.") from None
    frames = np.asarray(frames, dtype=np.float32)
    if frames.ndim < 3 or (frames.ndim == 3 and frames.shape[-1] in (3, 4)):
        frames = frames[np.newaxis]  # a single frame
    if len(frames) < min_frames:
        raise AssertionError(f"The GIF has {len(frames)} frame(s), fewer than {min_frames}: train for more "
                             f"epochs, or save a grid more often (TrainingGIF(every=1)). If fit was asked for "
                             f"{min_frames} epochs, training ended early (a TimeBudget or EarlyStopping callback).")
    # TrainingGIF titles each frame with its epoch: compare the images below the title only.
    # (A generator frozen for two epochs measured 0 there; two epochs of 4 steps changed it by 0.78.)
    below_title = int(TITLE_SHARE * frames.shape[1])
    change = float(np.mean(np.abs(frames[-1, below_title:] - frames[0, below_title:])))
    if change < 0.01:
        raise AssertionError("The first and last frames of the GIF show the same images: the generator did not "
                             "change during training. Check that fit trains the GAN whose generator the "
                             "callback draws.")
    return {"frames": int(len(frames)), "height": int(frames.shape[1]), "width": int(frames.shape[2]),
            "change": change}


# ================================================================== helpers
class _Restored:
    """Put the variables' values back when the block ends, whatever happened in it."""

    def __init__(self, variables: Iterable):
        unique = {}
        for variable in variables:
            unique.setdefault(id(variable), variable)
        self.variables = list(unique.values())

    def __enter__(self):
        self.values = _values(self.variables)
        return self

    def __exit__(self, *exc_info):
        for variable, value in zip(self.variables, self.values):
            variable.assign(value)
        return False


def _values(variables) -> list[np.ndarray]:
    return [np.array(ops.convert_to_numpy(variable.value)) for variable in variables]


def _changed(variables, before) -> list:
    return [variable for variable, old in zip(variables, before)
            if not np.array_equal(ops.convert_to_numpy(variable.value), old)]


def _names(variables) -> str:
    names = [getattr(variable, "path", variable.name) for variable in variables]
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    line = text[0] if text else ""
    return line[:300] + ("..." if len(line) > 300 else "")


def _student_model(model, argument: str, role: str) -> keras.Model:
    if model is None:
        raise AssertionError(f"`{argument}` is None: the {role} has not been built yet. Finish the TODO cell so "
                             "that it returns a keras.Model, then run this check again.")
    if not isinstance(model, keras.Model):
        raise TypeError(f"`{argument}` must be a keras.Model, got {type(model).__name__}")
    return model


def _student_function(fn, argument: str) -> Callable:
    if fn is None:
        raise AssertionError(f"`{argument}` is None: the function has not been written yet. "
                             "Finish the TODO cell, then run this check again.")
    if not callable(fn):
        raise TypeError(f"`{argument}` must be a function, got {type(fn).__name__}")
    return fn


def _student_call(fn: Callable, what: str, hint: str = ""):
    """Run the student's code; any error it raises becomes the student's AssertionError."""
    try:
        return fn()
    except AssertionError:
        raise
    except Exception as error:
        raise AssertionError(f"Running {what} raised {type(error).__name__}: {_first_line(error)}"
                             + (f" {hint}" if hint else "")) from error


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


def _model_inputs(model: keras.Model):
    # A Sequential model built without an Input has no `inputs` until it is called.
    try:
        return model.inputs
    except (AttributeError, ValueError):
        return None


def _check_input_count(model: keras.Model, count: int, role: str, expected: str) -> None:
    inputs = _model_inputs(model)
    if inputs is not None and len(inputs) != count:
        raise AssertionError(f"The {role} takes {len(inputs)} input(s) but should take {count}: {expected}.")


def _check_input_shape(model: keras.Model, index: int, shape: tuple, role: str, what: str, fix: str) -> None:
    inputs = _model_inputs(model)
    if inputs is None:
        return
    found = tuple(inputs[index].shape[1:])
    if found != tuple(shape):
        raise AssertionError(f"The {role}'s {what} has shape {(None, *found)}, expected {(None, *shape)}: {fix}.")


def _labels_for(model: keras.Model, labels: np.ndarray) -> np.ndarray:
    """Labels shaped as the model's label input declares: ``[batch]`` or ``[batch, 1]``."""
    inputs = _model_inputs(model)
    if inputs is not None and len(inputs[1].shape) == 2:
        return labels.astype("int32")[:, np.newaxis]
    return labels.astype("int32")


def _fake_images(image_shape: tuple, count: int = BATCH) -> np.ndarray:
    rng = np.random.default_rng(SEED + 1)
    return rng.uniform(-1.0, 1.0, (count, *image_shape)).astype("float32")


def _call(model: keras.Model, inputs, training: bool, role: str, described: str) -> np.ndarray:
    def run():
        return model(inputs, training=training)

    try:
        outputs = run()
    except Exception as error:
        mode = "training" if training else "inference"
        raise AssertionError(f"Calling the {role} on {described} in {mode} mode raised {type(error).__name__}: "
                             f"{_first_line(error)}") from error
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
    stochastic = [layer.name for layer in _all_layers(model)
                  if isinstance(layer, keras.layers.BatchNormalization)
                  or (isinstance(layer, keras.layers.Dropout) and layer.rate > 0)]
    if stochastic and np.array_equal(outputs, _call(model, inputs, False, role, "the same batch")):
        raise AssertionError(f"The {role} gives the same output in training and inference mode although it has "
                             f"dropout or batch-norm layers ({', '.join(stochastic[:3])}): they are called with "
                             "training=False. Call the layers without a training argument; Keras passes it.")


def _all_layers(model) -> list:
    """Every layer inside `model`, nested models and a custom layer's own sublayers included."""
    layers = []
    children = model.layers if isinstance(model, keras.Model) else getattr(model, "_layers", [])
    for layer in children:
        layers.append(layer)
        layers.extend(_all_layers(layer))
    return layers


def _last_weighted_layer(model: keras.Model):
    last = None
    for layer in _all_layers(model):
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
        with _Restored(weights):
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

    gradients = _student_call(lambda: run_in_state(model, compute), f"a gradient through the {role}")
    unreached = [variable for variable, gradient in zip(variables, gradients)
                 if gradient is None or not np.any(ops.convert_to_numpy(gradient))]
    if unreached:
        raise AssertionError(f"No gradient reaches these weights of the {role}: {_names(unreached)}. Something "
                             "between them and the output blocks it (stop_gradient, a cast to int, round or "
                             "argmax), or they are not connected to the output.")


def _check_input_gradients(model: keras.Model, images: np.ndarray, role: str, call: Callable | None = None) -> float:
    call = call or (lambda x: model(x, training=False))
    # `0 * sum(x)` keeps the images in the graph: a model that cuts them off then gets a zero
    # gradient on every backend (PyTorch would otherwise raise).
    gradients = _student_call(lambda: input_gradients(lambda x: ops.sum(call(x)) + 0.0 * ops.sum(x),
                                                      ops.convert_to_tensor(images)),
                              f"a gradient through the {role} to its input")
    gradients = np.zeros_like(images) if gradients is None else np.asarray(ops.convert_to_numpy(gradients))
    per_image = np.abs(gradients.reshape(len(images), -1)).max(axis=1)
    if not np.all(per_image > 0):
        raise AssertionError(f"No gradient reaches the {role}'s input images, so G could not learn from D. "
                             "Remove what blocks it between the input and the output (stop_gradient, a cast to "
                             "int, round, or reading the images as NumPy).")
    return float(np.mean(np.abs(gradients)))


def _batch_norm_statistics(model: keras.Model) -> list:
    return [layer.moving_mean for layer in _all_layers(model)
            if isinstance(layer, keras.layers.BatchNormalization) and layer.trainable]


def _check_no_frozen_batch_norm(model: keras.Model, role: str) -> None:
    frozen = [layer.name for layer in _all_layers(model)
              if isinstance(layer, keras.layers.BatchNormalization) and not layer.trainable]
    if frozen:
        raise AssertionError(f"The {role}'s batch-norm layer(s) {', '.join(frozen)} are frozen (trainable=False): "
                             "they never learn their scale and offset nor update their statistics. Leave them "
                             "trainable.")


def _check_batch_norm_trains(model: keras.Model, inputs, role: str) -> int:
    norms = [layer for layer in _all_layers(model) if isinstance(layer, keras.layers.BatchNormalization)]
    _check_no_frozen_batch_norm(model, role)
    if norms:
        statistics = [layer.moving_mean for layer in norms]
        before = _values(statistics)
        _call(model, inputs, True, role, "the same batch")
        stuck = [layer.name for layer, variable, old in zip(norms, statistics, before)
                 if np.array_equal(ops.convert_to_numpy(variable.value), old)]
        if stuck:
            raise AssertionError(f"The {role}'s batch-norm layer(s) {', '.join(stuck)} never update their "
                                 "moving statistics in training mode (momentum=1.0?), so inference would always "
                                 "normalise with the initial ones. Keep the default momentum (0.99).")
    return len(norms)


def _training_batch(generator: keras.Model, real_images, labels, conditional: bool):
    image_shape = tuple(generator.outputs[0].shape[1:]) if _model_inputs(generator) is not None else None
    if real_images is None:
        if image_shape is None:
            raise ValueError("`real_images` must be given for a generator without a defined output shape")
        real_images = _fake_images(image_shape, 8)
    real_images = np.asarray(real_images, dtype=np.float32)
    if image_shape is not None and tuple(real_images.shape[1:]) != image_shape:
        raise ValueError(f"`real_images` must have the generator's image shape {image_shape} per image, "
                         f"got {tuple(real_images.shape[1:])}")
    batch_size = int(real_images.shape[0])
    if conditional:
        if labels is None:
            num_classes = next((layer.input_dim for layer in _all_layers(generator)
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


# --------------------------------------------------------------- loss checks
def _fixed_logits() -> tuple[np.ndarray, np.ndarray]:
    """Eight real and eight fake logits, ``[8, 1]``, of both signs and moderate size.

    Moderate, so that every mistake the checks diagnose changes the value by
    far more than the tolerance, and no cross-entropy overflows.
    """
    real = np.array([2.1, -0.7, 1.4, 0.3, 3.2, -1.6, 0.9, 2.6], dtype=np.float32)[:, np.newaxis]
    fake = np.array([-1.8, 0.6, -2.9, -0.4, 1.3, -3.5, -1.1, 0.2], dtype=np.float32)[:, np.newaxis]
    return real, fake


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def _mean_softplus(x) -> float:
    return float(np.mean(np.logaddexp(0.0, np.asarray(x, dtype=np.float64))))


def _bce_on_probabilities(values, target: float) -> float:
    """Keras' binary cross-entropy with from_logits=False on raw values (it clips them to
    [eps, 1 - eps] in float32), computed by Keras itself so that the rounding matches."""
    values = ops.convert_to_tensor(np.asarray(values, dtype=np.float32))
    loss = keras.losses.binary_crossentropy(ops.full_like(values, target), values, from_logits=False)
    return float(np.mean(ops.convert_to_numpy(loss)))


def _spread(loss, logits):
    """A scalar loss spread evenly over the batch (a per-example loss is left as it is)."""
    loss = ops.convert_to_tensor(loss)
    ones = ops.ones_like(ops.reshape(ops.cast(logits, loss.dtype), (-1,)))
    return ones * ops.mean(loss)


def _loss_value(fn: Callable, name: str, logits: tuple, scale: int = 1) -> float:
    tensors = [ops.convert_to_tensor(np.tile(array, (scale, 1))) for array in logits]
    shapes = " and ".join(str(tuple(tensor.shape)) for tensor in tensors)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = _student_call(lambda: fn(*tensors), f"{name} on logits of shape {shapes}")
    if any(SIGMOID_BEFORE_FROM_LOGITS in str(warning.message) for warning in caught):
        raise AssertionError(f"{name} applies a sigmoid to the logits, then a loss with from_logits=True that "
                             "applies it again: pass the raw logits to BinaryCrossentropy(from_logits=True). "
                             "TensorFlow quietly undoes a keras.ops.sigmoid there, so the value looked right; on "
                             "JAX and PyTorch the same code trains another game.")
    if value is None:
        raise AssertionError(f"{name} returned None: finish it so that it returns the loss, a scalar tensor "
                             "(the mean over the batch).")
    try:
        array = np.asarray(ops.convert_to_numpy(value), dtype=np.float64)
    except Exception:
        raise AssertionError(f"{name} returned a {type(value).__name__}, not a number: return a scalar "
                             "tensor.") from None
    if array.size != 1:
        raise AssertionError(f"{name} returned shape {array.shape} instead of a scalar: average the per-example "
                             "losses over the batch (keras.losses.BinaryCrossentropy does it by default).")
    value = float(array.reshape(()))
    if not math.isfinite(value):
        raise AssertionError(f"{name} returned {value} on moderate logits: compute the cross-entropy from logits "
                             "(from_logits=True) rather than log(sigmoid(x)).")
    return value


def _close(value: float, target: float) -> bool:
    return math.isclose(value, target, rel_tol=RTOL, abs_tol=ATOL)


def _check_loss(fn, name, logits, expected, candidates, diagnoses, closed_form, advice) -> float:
    value = _loss_value(fn, name, logits)
    doubled = _loss_value(fn, name, logits, scale=2)
    # The same logits twice over: a batch mean stays put, a batch sum doubles.
    if not _close(doubled, value) and _close(doubled, 2 * value):
        raise AssertionError(f"{name} doubles when the batch is repeated twice: it sums over the batch instead "
                             "of averaging, so the step size would grow with the batch size. Use the mean "
                             "(keras.losses.BinaryCrossentropy's default reduction).")
    if _close(value, expected):
        return value
    for key, candidate in candidates.items():
        if _close(value, candidate):
            raise AssertionError(f"{name} {diagnoses[key]}")
    raise AssertionError(f"{name} returned {value:.4f} on the check's fixed logits, where {closed_form} "
                         f"{expected:.4f}. {advice}")


def _check_loss_gradients(fn, name: str, logits: tuple, expected: tuple) -> None:
    count = len(logits)
    joined = np.concatenate(logits, axis=0)
    size = len(logits[0])

    def joined_loss(x):
        parts = [x[i * size:(i + 1) * size] for i in range(count)]
        # A Python float or NumPy value (a detached loss) becomes a constant with no gradient;
        # `0 * sum(x)` keeps x in the graph, so that PyTorch reports a zero gradient, not an error.
        return ops.convert_to_tensor(fn(*parts)) + 0.0 * ops.sum(x)

    gradients = _student_call(lambda: input_gradients(joined_loss, ops.convert_to_tensor(joined)),
                              f"the gradient of {name} with respect to the logits",
                              hint="Write the loss with keras.ops or TensorFlow operations, on tensors.")
    if gradients is None or not np.any(ops.convert_to_numpy(gradients)):
        raise AssertionError(f"{name} has the right value but no gradient reaches the logits: it detaches them "
                             "(stop_gradient, .numpy(), float()). Keep the computation on tensors so the "
                             "networks can learn from it.")
    gradients = np.asarray(ops.convert_to_numpy(gradients), dtype=np.float64)
    target = np.concatenate([np.asarray(part, dtype=np.float64) for part in expected], axis=0)
    if not np.allclose(gradients, target, rtol=1e-3, atol=1e-6):
        raise AssertionError(f"{name} has the right value on these logits but the wrong gradient with respect to "
                             "them: part of it is detached or computed outside the tensors. Write the whole loss "
                             "with keras.ops or keras.losses.")
