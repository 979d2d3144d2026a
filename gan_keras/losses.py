"""GAN losses, written on discriminator *logits*.

Taught in `notebooks/02_gan_from_scratch.ipynb` (minimax vs non-saturating)
and `notebooks/05_stabilizing_training.ipynb` (the other losses).

Notation: ``D(x) = sigmoid(l(x))`` where ``l`` is the discriminator's logit,
``x ~ p_data`` a real image and ``G(z)`` a generated one. With logits,
``-log D(x) = softplus(-l(x))`` and ``-log(1 - D(x)) = softplus(l(x))``, which
stay finite where ``log(sigmoid(.))`` would underflow.

Every function returns a **per-example** loss of shape ``[batch]``. The caller
averages it: `GAN.train_step` divides the sum by the *global* batch size, so
the update is the same on one device or under a `tf.distribute` strategy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from keras import ops

from gan_keras._validation import check_choice


def _flat(logits):
    # Discriminators output [batch, 1]; losses are per example, so drop the 1.
    return ops.reshape(logits, (-1,))


def minimax_discriminator_loss(real_logits, fake_logits, label_smoothing: float = 0.0):
    """Discriminator loss of the original GAN (Goodfellow et al., 2014).

    ``L_D = -log D(x) - log(1 - D(G(z)))``, i.e. binary cross-entropy with
    targets 1 for real and 0 for fake. With one-sided label smoothing
    (Salimans et al., 2016) the real target is ``1 - label_smoothing``, which
    keeps D from becoming over-confident early.
    """
    real, fake = _flat(real_logits), _flat(fake_logits)
    real_target = 1.0 - label_smoothing
    real_term = real_target * ops.softplus(-real) + (1.0 - real_target) * ops.softplus(real)
    return real_term + ops.softplus(fake)


def minimax_generator_loss(fake_logits):
    """Generator loss of the original minimax game: ``L_G = log(1 - D(G(z)))``.

    G minimises this, i.e. maximises D's error. Its gradient vanishes when D
    confidently rejects the fakes (``D(G(z)) -> 0``), which is exactly the
    situation early in training: the "saturating" loss.
    """
    return -ops.softplus(_flat(fake_logits))


def non_saturating_generator_loss(fake_logits):
    """Non-saturating generator loss (Goodfellow et al., 2014, section 3).

    ``L_G = -log D(G(z))``: the same fixed point as the minimax loss, but with
    strong gradients when D rejects the fakes. The discriminator loss is the
    minimax one.
    """
    return ops.softplus(-_flat(fake_logits))


def least_squares_discriminator_loss(real_logits, fake_logits, label_smoothing: float = 0.0):
    """LSGAN discriminator loss (Mao et al., 2017).

    ``L_D = 1/2 (l(x) - 1)^2 + 1/2 l(G(z))^2`` on the raw outputs (targets 1 and 0).
    """
    real, fake = _flat(real_logits), _flat(fake_logits)
    return 0.5 * ops.square(real - (1.0 - label_smoothing)) + 0.5 * ops.square(fake)


def least_squares_generator_loss(fake_logits):
    """LSGAN generator loss: ``L_G = 1/2 (l(G(z)) - 1)^2``."""
    return 0.5 * ops.square(_flat(fake_logits) - 1.0)


def hinge_discriminator_loss(real_logits, fake_logits, label_smoothing: float = 0.0):
    """Hinge discriminator loss (Lim & Ye, 2017; used by SAGAN and BigGAN).

    ``L_D = max(0, 1 - l(x)) + max(0, 1 + l(G(z)))``. ``label_smoothing`` is
    accepted for a uniform interface and ignored (the margin plays its role).
    """
    del label_smoothing
    real, fake = _flat(real_logits), _flat(fake_logits)
    return ops.relu(1.0 - real) + ops.relu(1.0 + fake)


def hinge_generator_loss(fake_logits):
    """Hinge generator loss: ``L_G = -l(G(z))``."""
    return -_flat(fake_logits)


@dataclass(frozen=True)
class GANLoss:
    """A pair of per-example losses: one for D, one for G.

    Attributes:
        name: the name `GAN.compile(loss=...)` accepts.
        discriminator: ``f(real_logits, fake_logits, label_smoothing) -> [batch]``.
        generator: ``f(fake_logits) -> [batch]``.
    """

    name: str
    discriminator: Callable
    generator: Callable


LOSSES = {
    "minimax": GANLoss("minimax", minimax_discriminator_loss, minimax_generator_loss),
    "non_saturating": GANLoss("non_saturating", minimax_discriminator_loss, non_saturating_generator_loss),
    "lsgan": GANLoss("lsgan", least_squares_discriminator_loss, least_squares_generator_loss),
    "hinge": GANLoss("hinge", hinge_discriminator_loss, hinge_generator_loss),
}


def get_loss(loss: str | GANLoss) -> GANLoss:
    """Return the `GANLoss` called `loss` (or `loss` itself if it already is one)."""
    if isinstance(loss, GANLoss):
        return loss
    check_choice("loss", loss, LOSSES)
    return LOSSES[loss]
