import numpy as np
import pytest
import tensorflow as tf

from gan_keras import losses

REAL = np.array([[3.0], [0.5], [-1.0], [-4.0]], dtype="float32")
FAKE = np.array([[-2.0], [0.0], [1.5], [6.0]], dtype="float32")


def _sigmoid(x):
    # Reference values in float64, so the float32 losses are checked against the exact formula.
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def _np(x):
    return np.asarray(x)


def test_minimax_discriminator_loss_is_binary_cross_entropy():
    expected = -np.log(_sigmoid(REAL)) - np.log(1 - _sigmoid(FAKE))
    np.testing.assert_allclose(_np(losses.minimax_discriminator_loss(REAL, FAKE)), expected.ravel(), rtol=1e-5)


def test_label_smoothing_moves_the_real_target():
    target = 0.9
    expected = -(target * np.log(_sigmoid(REAL)) + (1 - target) * np.log(1 - _sigmoid(REAL))) - np.log(1 - _sigmoid(FAKE))
    got = losses.minimax_discriminator_loss(REAL, FAKE, label_smoothing=0.1)
    np.testing.assert_allclose(_np(got), expected.ravel(), rtol=1e-5)


def test_generator_losses_match_their_formulas():
    np.testing.assert_allclose(_np(losses.minimax_generator_loss(FAKE)), np.log(1 - _sigmoid(FAKE)).ravel(), rtol=1e-5)
    np.testing.assert_allclose(_np(losses.non_saturating_generator_loss(FAKE)), -np.log(_sigmoid(FAKE)).ravel(), rtol=1e-5)


def test_least_squares_and_hinge_match_their_formulas():
    np.testing.assert_allclose(
        _np(losses.least_squares_discriminator_loss(REAL, FAKE)),
        (0.5 * (REAL - 1) ** 2 + 0.5 * FAKE**2).ravel(), rtol=1e-6,
    )
    np.testing.assert_allclose(_np(losses.least_squares_generator_loss(FAKE)), (0.5 * (FAKE - 1) ** 2).ravel(), rtol=1e-6)
    np.testing.assert_allclose(
        _np(losses.hinge_discriminator_loss(REAL, FAKE)),
        (np.maximum(0, 1 - REAL) + np.maximum(0, 1 + FAKE)).ravel(), rtol=1e-6,
    )
    np.testing.assert_allclose(_np(losses.hinge_generator_loss(FAKE)), -FAKE.ravel(), rtol=1e-6)


def test_losses_stay_finite_for_extreme_logits():
    extreme = np.array([[-200.0], [200.0]], dtype="float32")
    for loss in losses.LOSSES.values():
        assert np.isfinite(_np(loss.discriminator(extreme, extreme))).all()
        assert np.isfinite(_np(loss.generator(extreme))).all()


def _generator_gradient(loss_fn, logit):
    value = tf.Variable([[logit]])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(loss_fn(value))
    return float(tape.gradient(loss, value).numpy().ravel()[0])


def test_minimax_saturates_where_non_saturating_does_not():
    # D confidently rejects a fake (logit -8, D(G(z)) ~ 0.0003): the minimax
    # generator gets almost no gradient, the non-saturating one nearly -1.
    minimax = _generator_gradient(losses.minimax_generator_loss, -8.0)
    non_saturating = _generator_gradient(losses.non_saturating_generator_loss, -8.0)
    assert abs(minimax) < 1e-3
    assert non_saturating < -0.99


def test_get_loss_accepts_names_and_objects():
    assert losses.get_loss("hinge") is losses.LOSSES["hinge"]
    assert losses.get_loss(losses.LOSSES["lsgan"]).name == "lsgan"
    with pytest.raises(ValueError, match="`loss` must be one of"):
        losses.get_loss("wasserstein-ish")
