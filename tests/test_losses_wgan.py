import keras
import numpy as np
import pytest
import tensorflow as tf

from gan_keras import losses


def _linear_critic(slope, input_shape=(3,)):
    inputs = keras.Input(input_shape)
    flat = keras.layers.Flatten()(inputs)
    dense = keras.layers.Dense(1, kernel_initializer="zeros", bias_initializer="zeros")
    outputs = dense(flat)
    critic = keras.Model(inputs, outputs)
    dense.set_weights([np.asarray(slope, "float32").reshape(-1, 1), np.zeros(1, "float32")])
    return critic


def test_wasserstein_losses_match_their_formulas():
    real = np.array([[2.0], [-1.0]], "float32")
    fake = np.array([[0.5], [3.0]], "float32")
    np.testing.assert_allclose(np.asarray(losses.wasserstein_critic_loss(real, fake)), [-1.5, 4.0])
    np.testing.assert_allclose(np.asarray(losses.wasserstein_generator_loss(fake)), [-0.5, -3.0])


def test_gradient_penalty_of_a_linear_critic_is_its_closed_form():
    # f(x) = w . x has gradient w everywhere, so the penalty is (|w| - 1)^2 for
    # every interpolate, whatever alpha is drawn.
    slope = np.array([3.0, 0.0, 4.0])  # |w| = 5
    critic = _linear_critic(slope)
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(6, 3)).astype("float32"), rng.normal(size=(6, 3)).astype("float32")
    penalty = np.asarray(losses.gradient_penalty(critic, tf.constant(real), tf.constant(fake), seed=1))
    np.testing.assert_allclose(penalty, np.full(6, 16.0), rtol=1e-5)


def test_gradient_penalty_is_finite_where_the_critic_is_flat():
    # A zero slope gives a zero gradient: sqrt'(0) is infinite, so a naive norm
    # would make the penalty's own gradient NaN.
    critic = _linear_critic(np.zeros(4), input_shape=(2, 2, 1))
    real = tf.constant(np.ones((3, 2, 2, 1), "float32"))
    fake = tf.constant(np.zeros((3, 2, 2, 1), "float32"))
    with tf.GradientTape() as tape:
        penalty = tf.reduce_mean(losses.gradient_penalty(critic, real, fake, seed=0))
    kernel = critic.trainable_weights[0]  # the bias does not move the input gradient
    gradient = tape.gradient(penalty, kernel)
    assert float(penalty) == pytest.approx(1.0, rel=1e-5)
    assert np.isfinite(gradient.numpy()).all()


def test_alpha_is_drawn_per_sample():
    # f(x) = |x|^2 / 2 has gradient x; on the segment from 0 to 3 the penalty
    # is (3 alpha - 1)^2, so one alpha per batch would give one value.
    inputs = keras.Input((1,))
    outputs = keras.layers.Lambda(lambda x: 0.5 * tf.reduce_sum(tf.square(x), axis=1, keepdims=True))(inputs)
    critic = keras.Model(inputs, outputs)
    penalty = np.asarray(losses.gradient_penalty(critic, tf.zeros((64, 1)), tf.fill((64, 1), 3.0), seed=7))
    assert np.unique(np.round(penalty, 6)).size > 50
    assert penalty.max() <= 4.0 + 1e-5  # alpha in [0, 1] keeps (3 alpha - 1)^2 <= 4


def test_wgan_gp_is_a_registered_loss_with_a_penalty():
    loss = losses.get_loss("wgan_gp")
    assert loss.gradient_penalty and not losses.get_loss("hinge").gradient_penalty
