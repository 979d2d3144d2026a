"""Grading checks of a student's two losses, and `as_gan_loss`, which turns them into a `GANLoss`."""

from __future__ import annotations

import math
import warnings
from typing import Callable

import keras
import numpy as np
from keras import ops

from gan_keras._validation import check_choice
from gan_keras.autodiff import input_gradients
from gan_keras.losses import GANLoss
from gan_keras.grading.common import quiet, student_call, student_function

# What Keras warns, on TensorFlow only, when BinaryCrossentropy(from_logits=True) is given a sigmoid's
# output; it then quietly uses the sigmoid's input instead, so the loss *looks* right there.
SIGMOID_BEFORE_FROM_LOGITS = "received `from_logits=True`, but the `output` argument was produced by a"


# A student's float32 loss computed another valid way (keras.losses, tf.nn, keras.ops)
# agrees with the closed form to about 1e-6; these tolerances leave room for that only.
RTOL, ATOL = 1e-4, 1e-5


GENERATOR_LOSS_KINDS = ("non_saturating", "minimax")


ONLY_LOOKS_RIGHT_ON_TENSORFLOW = (
    " (TensorFlow quietly undoes a keras.ops.sigmoid given to a from_logits=True loss, so it can look right "
    "there; on JAX and PyTorch it trains another game.)")


@quiet
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
    fn = student_function(fn, "discriminator_loss")
    real, fake = fixed_logits()
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


@quiet
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
    fn = student_function(fn, "generator_loss")
    _, fake = fixed_logits()
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
        return loss_spread(discriminator_loss(real_logits, fake_logits), fake_logits)

    def per_example_generator(fake_logits):
        return loss_spread(generator_loss(fake_logits), fake_logits)

    return GANLoss(name, per_example_discriminator, per_example_generator)


def fixed_logits() -> tuple[np.ndarray, np.ndarray]:
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


def loss_spread(loss, logits):
    """A scalar loss spread evenly over the batch (a per-example loss is left as it is)."""
    loss = ops.convert_to_tensor(loss)
    ones = ops.ones_like(ops.reshape(ops.cast(logits, loss.dtype), (-1,)))
    return ones * ops.mean(loss)


def loss_value(fn: Callable, name: str, logits: tuple, scale: int = 1) -> float:
    tensors = [ops.convert_to_tensor(np.tile(array, (scale, 1))) for array in logits]
    shapes = " and ".join(str(tuple(tensor.shape)) for tensor in tensors)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = student_call(lambda: fn(*tensors), f"{name} on logits of shape {shapes}")
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
    value = loss_value(fn, name, logits)
    doubled = loss_value(fn, name, logits, scale=2)
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

    gradients = student_call(lambda: input_gradients(joined_loss, ops.convert_to_tensor(joined)),
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
