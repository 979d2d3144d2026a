"""GAN losses, written on discriminator *logits*.

Taught in `notebooks/02_gan_from_scratch.ipynb` (minimax vs non-saturating)
and `notebooks/05_stabilizing_training.ipynb` (LSGAN, hinge, WGAN-GP).

Notation: ``D(x) = sigmoid(l(x))`` where ``l`` is the discriminator's logit,
``x ~ p_data`` a real image and ``G(z)`` a generated one. With logits,
``-log D(x) = softplus(-l(x))`` and ``-log(1 - D(x)) = softplus(l(x))``, which
stay finite where ``log(sigmoid(.))`` would underflow.

Every function returns a **per-example** loss of shape ``[batch]`` (a
discriminator outputs ``[batch, 1]``: ``ops.reshape(logits, (-1,))`` drops the 1). The caller
averages it: `GAN.train_step` divides the sum by the *global* batch size, so
the update is the same on one device or under a `tf.distribute` strategy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import keras
from keras import ops

from gan_keras._validation import check_choice
from gan_keras.autodiff import input_gradients
from gan_keras.training.distribute import replica_position, replica_random


def global_batch_mean(per_example):
    """Mean of a per-example loss over the *global* batch.

    Under a `tf.distribute` strategy each replica sees 1/N of the batch and
    the replicas' gradients are summed, so dividing by the local batch size
    would make every step N times too large. Without a strategy N = 1 and this
    is the plain mean.
    """
    replicas, _ = replica_position()
    local_batch = ops.cast(ops.shape(per_example)[0], per_example.dtype)
    return ops.sum(per_example) / (local_batch * replicas)


def minimax_discriminator_loss(real_logits, fake_logits, label_smoothing: float = 0.0):
    """Discriminator loss of the original GAN (Goodfellow et al., 2014).

    ``L_D = -log D(x) - log(1 - D(G(z)))``, i.e. binary cross-entropy with
    targets 1 for real and 0 for fake. With one-sided label smoothing
    (Salimans et al., 2016) the real target is ``1 - label_smoothing``, which
    keeps D from becoming over-confident early.
    """
    real, fake = ops.reshape(real_logits, (-1,)), ops.reshape(fake_logits, (-1,))
    real_target = 1.0 - label_smoothing
    real_term = real_target * ops.softplus(-real) + (1.0 - real_target) * ops.softplus(real)
    return real_term + ops.softplus(fake)


def minimax_generator_loss(fake_logits):
    """Generator loss of the original minimax game: ``L_G = log(1 - D(G(z)))``.

    G minimises this, i.e. maximises D's error. Its gradient vanishes when D
    confidently rejects the fakes (``D(G(z)) -> 0``), which is exactly the
    situation early in training: the "saturating" loss.
    """
    return -ops.softplus(ops.reshape(fake_logits, (-1,)))


def non_saturating_generator_loss(fake_logits):
    """Non-saturating generator loss (Goodfellow et al., 2014, section 3).

    ``L_G = -log D(G(z))``: the same fixed point as the minimax loss, but with
    strong gradients when D rejects the fakes. The discriminator loss is the
    minimax one.
    """
    return ops.softplus(-ops.reshape(fake_logits, (-1,)))


def least_squares_discriminator_loss(real_logits, fake_logits, label_smoothing: float = 0.0):
    """LSGAN discriminator loss (Mao et al., 2017).

    ``L_D = 1/2 (l(x) - 1)^2 + 1/2 l(G(z))^2`` on the raw outputs (targets 1 and 0).
    """
    real, fake = ops.reshape(real_logits, (-1,)), ops.reshape(fake_logits, (-1,))
    return 0.5 * ops.square(real - (1.0 - label_smoothing)) + 0.5 * ops.square(fake)


def least_squares_generator_loss(fake_logits):
    """LSGAN generator loss: ``L_G = 1/2 (l(G(z)) - 1)^2``."""
    return 0.5 * ops.square(ops.reshape(fake_logits, (-1,)) - 1.0)


def hinge_discriminator_loss(real_logits, fake_logits, label_smoothing: float = 0.0):
    """Hinge discriminator loss (Lim & Ye, 2017; used by SAGAN and BigGAN).

    ``L_D = max(0, 1 - l(x)) + max(0, 1 + l(G(z)))``. ``label_smoothing`` is
    accepted for a uniform interface and ignored (the margin plays its role).
    """
    del label_smoothing
    real, fake = ops.reshape(real_logits, (-1,)), ops.reshape(fake_logits, (-1,))
    return ops.relu(1.0 - real) + ops.relu(1.0 + fake)


def hinge_generator_loss(fake_logits):
    """Hinge generator loss: ``L_G = -l(G(z))``."""
    return -ops.reshape(fake_logits, (-1,))


def wasserstein_critic_loss(real_logits, fake_logits, label_smoothing: float = 0.0):
    """Wasserstein critic loss (Arjovsky et al., 2017): ``L_D = f(G(z)) - f(x)``.

    The "discriminator" is a critic ``f`` with unbounded scores; minimising
    this maximises ``E f(x) - E f(G(z))``, an estimate of the Wasserstein-1
    distance when ``f`` is 1-Lipschitz, which `gradient_penalty` enforces
    (WGAN-GP). ``label_smoothing`` is accepted and ignored.
    """
    del label_smoothing
    return ops.reshape(fake_logits, (-1,)) - ops.reshape(real_logits, (-1,))


def wasserstein_generator_loss(fake_logits):
    """Wasserstein generator loss: ``L_G = -f(G(z))``."""
    return -ops.reshape(fake_logits, (-1,))


def gradient_penalty(critic, real_images, fake_images, labels=None, seed=None, eps: float = 1e-12):
    """Per-example gradient penalty of WGAN-GP (Gulrajani et al., 2017).

    ``(||grad_x f(x_hat)||_2 - 1)^2`` at ``x_hat = x + alpha (G(z) - x)`` with
    ``alpha ~ U(0, 1)`` drawn *per sample*. The norm is ``sqrt(sum g^2 + eps)``:
    the plain ``sqrt`` has an infinite derivative at 0, so a critic with a zero
    gradient somewhere would turn every weight into NaN.

    Args:
        critic: the discriminator model (called with ``[images, labels]`` if
            `labels` is given).
        real_images, fake_images: batches of the same shape.
        labels: class labels for a conditional critic.
        seed: an int or `keras.random.SeedGenerator` for alpha.

    Returns:
        A ``[batch]`` tensor.
    """
    real_images, fake_images = ops.convert_to_tensor(real_images), ops.convert_to_tensor(fake_images)
    batch_size = ops.shape(real_images)[0]
    alpha_shape = (batch_size,) + (1,) * (len(real_images.shape) - 1)
    # One alpha per image, sliced from a global-batch draw under a strategy.
    alpha = replica_random(keras.random.uniform, batch_size, alpha_shape[1:], seed=seed)
    interpolated = real_images + alpha * (fake_images - real_images)
    gradients = input_gradients(
        lambda images: critic(images if labels is None else [images, labels], training=True), interpolated
    )
    squared_norm = ops.sum(ops.square(ops.reshape(gradients, (batch_size, -1))), axis=1)
    return ops.square(ops.sqrt(squared_norm + eps) - 1.0)


def r1_penalty(discriminator, real_images, labels=None):
    """Per-example R1 penalty (Mescheder et al., 2018): ``||grad_x D(x)||^2`` at real images.

    Penalising D's slope on the real data keeps it from growing ever steeper
    around the digits it has memorised; near the equilibrium, where G's images
    lie on the real ones, D then has no slope left to push G around with.
    `GAN.compile(r1_weight=gamma)` adds ``gamma / 2`` times this to D's loss.
    For a linear ``D(x) = w . x + b`` it is ``||w||^2`` for every image.

    Args:
        discriminator: D (called with ``[images, labels]`` if `labels` is given).
        real_images: the batch of real images (as D sees them).
        labels: class labels for a conditional D.

    Returns:
        A ``[batch]`` tensor.
    """
    real_images = ops.convert_to_tensor(real_images)
    gradients = input_gradients(
        lambda images: discriminator(images if labels is None else [images, labels], training=True), real_images
    )
    return ops.sum(ops.square(ops.reshape(gradients, (ops.shape(real_images)[0], -1))), axis=1)


@dataclass(frozen=True)
class GANLoss:
    """A pair of per-example losses: one for D, one for G.

    Attributes:
        name: the name `GAN.compile(loss=...)` accepts.
        discriminator: ``f(real_logits, fake_logits, label_smoothing) -> [batch]``.
        generator: ``f(fake_logits) -> [batch]``.
        gradient_penalty: whether D's loss adds `gradient_penalty` (WGAN-GP).
        decision_boundary: the output above which D calls an image real
            (logit 0, i.e. probability 0.5, for the cross-entropy and hinge
            losses; 0.5 halfway between LSGAN's targets 0 and 1), or ``None``
            where D's output is a score with no "real" side: a Wasserstein
            critic, for which `GAN` then reports no accuracy.
    """

    name: str
    discriminator: Callable
    generator: Callable
    gradient_penalty: bool = False
    decision_boundary: float | None = 0.0


LOSSES = {
    "minimax": GANLoss("minimax", minimax_discriminator_loss, minimax_generator_loss),
    "non_saturating": GANLoss("non_saturating", minimax_discriminator_loss, non_saturating_generator_loss),
    "lsgan": GANLoss("lsgan", least_squares_discriminator_loss, least_squares_generator_loss, decision_boundary=0.5),
    "hinge": GANLoss("hinge", hinge_discriminator_loss, hinge_generator_loss),
    "wgan_gp": GANLoss("wgan_gp", wasserstein_critic_loss, wasserstein_generator_loss, gradient_penalty=True,
                       decision_boundary=None),
}


def get_loss(loss: str | GANLoss) -> GANLoss:
    """Return the `GANLoss` called `loss` (or `loss` itself if it already is one)."""
    if isinstance(loss, GANLoss):
        return loss
    check_choice("loss", loss, LOSSES)
    return LOSSES[loss]
