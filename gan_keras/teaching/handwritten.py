"""Algorithm 1 written out by hand, once per backend, without the library.

Taught in `notebooks/09_one_gan_three_backends.ipynb`, which prints these
functions side by side and checks that `GAN.gan_step` makes the same update;
`tests/test_backends.py` checks it on every backend.

Each function is one step of Goodfellow et al.'s Algorithm 1 with the
non-saturating loss, in the style of the keras.io GAN guides: draw noise,
generate a batch and update D on it (G held fixed); then draw *fresh* noise
and update G through D(G(z)). Noise comes from `seed_generator`, in that
order, so a `GAN` with the same seed draws the same numbers.

They change `generator`, `discriminator` and the two optimizers in place and
return ``(d_loss, g_loss)``.
"""

from __future__ import annotations

import keras
from keras import ops


def discriminator_loss(real_logits, fake_logits):
    """``-log D(x) - log(1 - D(G(z)))`` on logits, averaged over the batch."""
    return ops.mean(ops.softplus(-real_logits) + ops.softplus(fake_logits))


def generator_loss(fake_logits):
    """The non-saturating ``-log D(G(z))`` on logits, averaged over the batch."""
    return ops.mean(ops.softplus(-fake_logits))


def _noise(generator, batch_size, seed_generator):
    latent_dim = generator.inputs[0].shape[-1]
    return keras.random.normal((batch_size, latent_dim), seed=seed_generator)


def tensorflow_step(generator, discriminator, g_optimizer, d_optimizer, real_images, seed_generator):
    """TensorFlow: record the forward pass on a tape, then differentiate."""
    import tensorflow as tf

    batch_size = ops.shape(real_images)[0]
    # 1. Update D on a generated batch, G held fixed.
    fake_images = generator(_noise(generator, batch_size, seed_generator), training=True)
    with tf.GradientTape() as tape:
        d_loss = discriminator_loss(discriminator(real_images, training=True),
                                    discriminator(fake_images, training=True))
    d_gradients = tape.gradient(d_loss, discriminator.trainable_variables)
    d_optimizer.apply(d_gradients, discriminator.trainable_variables)
    # 2. Update G on fresh noise, through the updated D.
    noise = _noise(generator, batch_size, seed_generator)
    with tf.GradientTape() as tape:
        g_loss = generator_loss(discriminator(generator(noise, training=True), training=True))
    g_gradients = tape.gradient(g_loss, generator.trainable_variables)
    g_optimizer.apply(g_gradients, generator.trainable_variables)
    return d_loss, g_loss


def torch_step(generator, discriminator, g_optimizer, d_optimizer, real_images, seed_generator):
    """PyTorch: autograd builds a graph as the loss is computed; walk it back."""
    import torch

    real_images = ops.convert_to_tensor(real_images)
    batch_size = real_images.shape[0]
    # 1. Update D on a generated batch, G held fixed.
    with torch.no_grad():
        fake_images = generator(_noise(generator, batch_size, seed_generator), training=True)
    d_loss = discriminator_loss(discriminator(real_images, training=True), discriminator(fake_images, training=True))
    d_gradients = torch.autograd.grad(d_loss, [variable.value for variable in discriminator.trainable_variables])
    with torch.no_grad():
        d_optimizer.apply(d_gradients, discriminator.trainable_variables)
    # 2. Update G on fresh noise, through the updated D.
    noise = _noise(generator, batch_size, seed_generator)
    g_loss = generator_loss(discriminator(generator(noise, training=True), training=True))
    g_gradients = torch.autograd.grad(g_loss, [variable.value for variable in generator.trainable_variables])
    with torch.no_grad():
        g_optimizer.apply(g_gradients, generator.trainable_variables)
    return d_loss, g_loss


def jax_train_step(generator, discriminator, g_optimizer, d_optimizer):
    """JAX: differentiate pure functions of the weights (`stateless_call`),
    and let the optimizers return new values (`stateless_apply`).

    Returns:
        ``step(state, real_images, d_noise, g_noise) -> (state, (d_loss,
        g_loss))``, a pure function (wrap it in `jax.jit` for speed) of
        ``state = (g_weights, g_state, d_weights, d_state, g_slots, d_slots)``
        (see `jax_state`).
    """
    import jax

    def d_loss_fn(d_weights, d_state, real_images, fake_images):
        real_logits, d_state = discriminator.stateless_call(d_weights, d_state, real_images, training=True)
        fake_logits, d_state = discriminator.stateless_call(d_weights, d_state, fake_images, training=True)
        return discriminator_loss(real_logits, fake_logits), d_state

    def g_loss_fn(g_weights, g_state, d_weights, d_state, noise):
        fake_images, g_state = generator.stateless_call(g_weights, g_state, noise, training=True)
        fake_logits, d_state = discriminator.stateless_call(d_weights, d_state, fake_images, training=True)
        return generator_loss(fake_logits), (g_state, d_state)

    def step(state, real_images, d_noise, g_noise):
        g_weights, g_state, d_weights, d_state, g_slots, d_slots = state
        # 1. Update D on a generated batch, G held fixed.
        fake_images, g_state = generator.stateless_call(g_weights, g_state, d_noise, training=True)
        (d_loss, d_state), d_gradients = jax.value_and_grad(d_loss_fn, has_aux=True)(
            d_weights, d_state, real_images, fake_images)
        d_weights, d_slots = d_optimizer.stateless_apply(d_slots, d_gradients, d_weights)
        # 2. Update G on fresh noise, through the updated D.
        (g_loss, (g_state, d_state)), g_gradients = jax.value_and_grad(g_loss_fn, has_aux=True)(
            g_weights, g_state, d_weights, d_state, g_noise)
        g_weights, g_slots = g_optimizer.stateless_apply(g_slots, g_gradients, g_weights)
        return (g_weights, g_state, d_weights, d_state, g_slots, d_slots), (d_loss, g_loss)

    return step


def _jax_variables(generator, discriminator, g_optimizer, d_optimizer):
    for optimizer, network in ((g_optimizer, generator), (d_optimizer, discriminator)):
        if not optimizer.built:  # stateless_apply needs the slots to exist
            optimizer.build(network.trainable_variables)
    return (generator.trainable_variables, generator.non_trainable_variables, discriminator.trainable_variables,
            discriminator.non_trainable_variables, g_optimizer.variables, d_optimizer.variables)


def jax_state(generator, discriminator, g_optimizer, d_optimizer) -> tuple:
    """The current values `jax_train_step`'s step takes, in its order."""
    return tuple([variable.value for variable in group]
                 for group in _jax_variables(generator, discriminator, g_optimizer, d_optimizer))


def jax_step(generator, discriminator, g_optimizer, d_optimizer, real_images, seed_generator):
    """JAX: run `jax_train_step`'s pure step once and write the new values
    back into the Keras variables."""
    batch_size = real_images.shape[0]
    d_noise = _noise(generator, batch_size, seed_generator)
    g_noise = _noise(generator, batch_size, seed_generator)  # fresh noise for G
    networks = (generator, discriminator, g_optimizer, d_optimizer)
    state, (d_loss, g_loss) = jax_train_step(*networks)(jax_state(*networks), real_images, d_noise, g_noise)
    for variables, values in zip(_jax_variables(*networks), state):
        for variable, value in zip(variables, values):
            variable.assign(value)
    return d_loss, g_loss


STEPS = {"tensorflow": tensorflow_step, "jax": jax_step, "torch": torch_step}


def algorithm_1_step(generator, discriminator, g_optimizer, d_optimizer, real_images, seed_generator):
    """The hand-written step of the backend in use (see the module docstring).

    Returns:
        ``(d_loss, g_loss)`` before the updates.
    """
    return STEPS[keras.backend.backend()](generator, discriminator, g_optimizer, d_optimizer, real_images,
                                          seed_generator)
