"""The `GAN` model: a `keras.Model` whose `train_step` plays the GAN game.

Taught in `notebooks/02_gan_from_scratch.ipynb` (the same loop written by
hand first), `notebooks/03_dcgan_mnist.ipynb` and, for the backends,
`notebooks/09_one_gan_three_backends.ipynb`.

`GAN.train_step` (also called `gan_step`) is Goodfellow et al.'s Algorithm 1
on one batch of real images:

1. **discriminator update**, `d_steps` times (`discriminator_step`): draw
   noise ``z`` from the model's `SeedGenerator`, generate ``G(z)`` (held
   fixed: a constant here) and take one optimizer step on D's loss for the
   real batch and ``G(z)``;
2. **generator update** (`generator_step`): draw *fresh* noise and take one
   optimizer step on G's loss for ``D(G(z))``, scored by the *updated* D;
   the gradient flows through D into G's weights.

Each update is one call of `descend(model, weights, optimizer, loss_fn)`,
below, whose three backend branches sit side by side as in keras.io's
"customizing fit()" guides: a `tf.GradientTape`; `jax.value_and_grad` of a
pure function of the weights, then ``optimizer.stateless_apply``;
`torch.autograd`. (The pure function on JAX comes from
`gan_keras.autodiff.stateless_loss`.) `gan_keras.teaching.handwritten` writes the same
step out by hand on each backend; the tests check that both give the same
weights.
"""

from __future__ import annotations

import warnings
from functools import partial
from typing import Callable, Sequence

import keras
import numpy as np
from keras import ops

from gan_keras._saving import RandomStateMixin
from gan_keras._validation import check_non_negative_float, check_positive_int
from gan_keras.averaging import WeightAverage
from gan_keras.data import checked_fit_arguments
from gan_keras.training.distribute import replica_position
from gan_keras.augment import AUGMENTATIONS, Augmentation, diff_augment, get_augmentation
from gan_keras.losses import LOSSES, GANLoss, get_loss, global_batch_mean, gradient_penalty, r1_penalty
from gan_keras.autodiff import (
    OptimizerPair,
    apply_gradients,
    run_in_state,
    stateless_loss,
    stateless_train_step,
    values_and_gradients,
)
from gan_keras.training.mixed_precision import uses_float16, with_loss_scaling


def default_optimizer(learning_rate: float = 2e-4) -> keras.optimizers.Optimizer:
    """Adam with beta_1 = 0.5, as recommended by Radford et al. (2015):
    the default 0.9 lets momentum carry D and G past each other and oscillate."""
    return keras.optimizers.Adam(learning_rate=learning_rate, beta_1=0.5)


def descend(model: keras.Model, weights: Sequence, optimizer: keras.optimizers.Optimizer,
            loss_fn: Callable) -> tuple:
    """One step of gradient descent on ``loss_fn()`` for `weights`, on any backend.

    Args:
        model: the model `weights` belong to (on JAX, its other variables are
            the loss's state: see `gan_keras.autodiff.stateless_loss`).
        weights: the variables to update, e.g. ``D.trainable_variables``.
        optimizer: their optimizer.
        loss_fn: a function of no arguments returning a tuple: the scalar loss
            first, then anything else wanted from the same forward pass.

    Returns:
        What ``loss_fn()`` returned, computed before the update.
    """
    weights = list(weights)
    # Mixed precision: differentiate the loss times the loss scale, so that float16 gradients do
    # not underflow; `apply` divides them by it again. Without a LossScaleOptimizer it is the loss.
    scale = optimizer.scale_loss
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:  # record the forward pass...
            outputs = loss_fn()
            scaled_loss = scale(outputs[0])
        gradients = tape.gradient(scaled_loss, weights)  # ...and walk it back
        # A weight the loss does not use gets a zero gradient, as on JAX.
        optimizer.apply([ops.zeros_like(weight) if gradient is None else gradient
                         for weight, gradient in zip(weights, gradients)], weights)
    elif backend == "jax":
        import jax

        # The loss as a pure function of the weights' values (and of the model's other state).
        pure_loss, state = stateless_loss(model, loss_fn, weights, scale)
        weight_values = [weight.value for weight in weights]
        (_, (outputs, new_state)), gradients = jax.value_and_grad(pure_loss, has_aux=True)(
            weight_values, [variable.value for variable in state])
        new_weights, new_slots = optimizer.stateless_apply(
            [slot.value for slot in optimizer.variables], gradients, weight_values)
        for variable, value in zip(state + weights + optimizer.variables, new_state + new_weights + new_slots):
            variable.assign(value)
    elif backend == "torch":
        import torch

        outputs = loss_fn()  # autograd builds the graph as the loss is computed
        gradients = torch.autograd.grad(scale(outputs[0]), [weight.value for weight in weights],
                                        materialize_grads=True)  # zeros for a weight the loss does not use
        with torch.no_grad():  # the update itself is not differentiated
            optimizer.apply(gradients, weights)
    else:
        raise RuntimeError(f"gan_keras trains on TensorFlow, JAX and PyTorch; KERAS_BACKEND is {backend!r}")
    return outputs


@keras.saving.register_keras_serializable(package="gan_keras")
class GAN(RandomStateMixin, keras.Model):
    """A generator and a discriminator trained against each other with `fit`.

    Args:
        generator: maps noise ``[batch, latent_dim]`` (and labels, if conditional)
            to images; see `gan_keras.build_generator`.
        discriminator: maps images (and labels) to one logit per image.
        latent_dim: size of the noise vector; taken from the generator's
            input when omitted.
        seed: seed of the `SeedGenerator` that draws all noise, for
            repeatable runs.

    The dataset given to `fit` yields batches of real images, or
    ``(images, labels)`` for a class-conditional GAN.
    """

    def __init__(
        self,
        generator: keras.Model,
        discriminator: keras.Model,
        latent_dim: int | None = None,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for name, model in (("generator", generator), ("discriminator", discriminator)):
            if not isinstance(model, keras.Model):
                raise TypeError(f"`{name}` must be a keras.Model, got {type(model).__name__}")
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = noise_size(generator, latent_dim)
        self.conditional = is_conditional(generator)
        if self.conditional != is_conditional(discriminator):
            raise ValueError(
                "`generator` and `discriminator` must both be conditional (built with "
                "num_classes) or both unconditional; got "
                f"{len(model_inputs(generator) or [])} generator input(s) and "
                f"{len(model_inputs(discriminator) or [])} discriminator input(s)"
            )
        self.num_classes = num_classes_of(generator) if self.conditional else None

        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        # Share of real (fake) images D calls real (fake); see `_record`.
        self.real_accuracy_tracker = keras.metrics.Mean(name="d_real_accuracy")
        self.fake_accuracy_tracker = keras.metrics.Mean(name="d_fake_accuracy")
        self.generator_ema = None  # a WeightAverage, with compile(ema=...)
        self.reports_accuracy = True  # set by compile: not for a Wasserstein critic
        self._checked_sigmoid = False
        # Subclassed networks (a keras.Model with `call`) have no weights until
        # called: build both now, D on G's images, so that compile() can build
        # their optimizers and the image shape is known.
        self.image_shape = _build_networks(self)
        self.built = True

    @property
    def metrics(self):
        # Listed here so that Keras resets them at the start of every epoch.
        losses = [self.d_loss_tracker, self.g_loss_tracker]
        if not self.reports_accuracy:
            return losses
        return losses + [self.real_accuracy_tracker, self.fake_accuracy_tracker]

    def compile(
        self,
        g_optimizer: keras.optimizers.Optimizer | None = None,
        d_optimizer: keras.optimizers.Optimizer | None = None,
        loss: str | GANLoss = "non_saturating",
        label_smoothing: float = 0.0,
        d_steps: int = 1,
        gradient_penalty_weight: float = 10.0,
        simultaneous: bool = False,
        ema: float = 0.0,
        r1_weight: float = 0.0,
        r1_every: int = 1,
        augment: str | Augmentation | None = None,
        **kwargs,
    ) -> None:
        """Configure training.

        The defaults are the DCGAN paper's (Adam(2e-4, beta_1 = 0.5), Radford
        et al., 2015), the recipe a notebook that builds its own GAN follows.
        `gan_keras.training.train` differs on purpose: its defaults
        (`gan_keras.training.config.RECIPES`, Adam(1e-3, beta_1 = 0)) were
        measured best for a 5-minute CPU run (docs/defaults.md).

        Args:
            g_optimizer: generator optimizer (default Adam(2e-4, beta_1=0.5)).
            d_optimizer: discriminator optimizer (same default). Two
                optimizers, because each keeps its own moment estimates.
                When the models were built under the ``mixed_float16``
                policy, both are wrapped in a `LossScaleOptimizer`.
            loss: a name from `gan_keras.losses.LOSSES` or a `GANLoss`.
            label_smoothing: one-sided label smoothing of the real target
                (0 disables it; 0.1 is a common choice).
            d_steps: discriminator (critic) updates per generator update;
                WGAN-GP uses 5, each with fresh noise on the same real batch.
            gradient_penalty_weight: lambda of WGAN-GP (used by ``"wgan_gp"`` only).
            simultaneous: the TensorFlow DCGAN tutorial's faster rule:
                update G and D from the *same* forward pass (one noise draw,
                both gradients taken before either update): one G pass and
                one D pass fewer per step (docs/speed.md). The default
                (False) is Goodfellow et al.'s Algorithm 1: D first, then G
                on fresh noise, scored by the updated D.
            ema: if > 0, also keep an exponential moving average of G's
                weights with this decay (e.g. 0.999, with a warm-up; see
                `gan_keras.averaging`), updated after every G step. Samples
                (`generate`, `sampling_generator`) then come from the average.
            r1_weight: gamma of the R1 penalty (Mescheder et al., 2018):
                ``gamma / 2 * ||grad_x D(x)||^2`` on the real images is added
                to D's loss (`gan_keras.losses.r1_penalty`); 0 turns it off.
            r1_every: lazy regularisation (Karras et al., 2020): compute the
                penalty on every `r1_every`-th D step only, `r1_every` times
                as heavily; 1 computes it on every step.
            augment: ``"translation"``, ``"cutout"``, ``"translation_cutout"``
                or an `Augmentation`: D sees every image, real and generated,
                randomly shifted and/or partly blanked (DiffAugment, Zhao et
                al., 2020; `gan_keras.augment`), and G learns through the
                same transforms. ``None`` (or ``"none"``) shows D the images
                as they are.
            **kwargs: passed to `keras.Model.compile` (e.g. ``run_eagerly``,
                ``jit_compile``, ``steps_per_execution``).
        """
        # No Keras-level optimizer: the two below do all updates (an unused
        # default RMSprop would be built and saved with every backup).
        super().compile(optimizer=None, **kwargs)
        self.g_optimizer = g_optimizer if g_optimizer is not None else default_optimizer()
        self.d_optimizer = d_optimizer if d_optimizer is not None else default_optimizer()
        for name, optimizer in (("g_optimizer", self.g_optimizer), ("d_optimizer", self.d_optimizer)):
            if not isinstance(optimizer, keras.optimizers.Optimizer):
                raise TypeError(f"`{name}` must be a keras.optimizers.Optimizer, got {type(optimizer).__name__}")
        if self.g_optimizer is self.d_optimizer:
            raise ValueError("`g_optimizer` and `d_optimizer` must be two different optimizer objects")
        if uses_float16(self.generator, self.discriminator):
            # Built under mixed_float16: scale both losses (Keras' own
            # auto_scale_loss would only wrap `self.optimizer`).
            self.g_optimizer = with_loss_scaling(self.g_optimizer)
            self.d_optimizer = with_loss_scaling(self.d_optimizer)
        self.gan_loss = get_loss(loss)
        # A Wasserstein critic's score has no "real" side, so D's accuracy
        # would be a meaningless number there: it is not reported.
        self.reports_accuracy = self.gan_loss.decision_boundary is not None
        self.label_smoothing = check_non_negative_float("label_smoothing", label_smoothing, maximum=0.5)
        self.d_steps = check_positive_int("d_steps", d_steps)
        self.simultaneous = bool(simultaneous)
        self.gradient_penalty_weight = check_non_negative_float("gradient_penalty_weight", gradient_penalty_weight)
        ema = check_non_negative_float("ema", ema)
        if ema >= 1:
            raise ValueError(f"`ema` must be in [0, 1) (0 turns the average off), got {ema}")
        self.generator_ema = WeightAverage(self.generator, ema, name="generator_ema") if ema > 0 else None
        self.r1_weight = check_non_negative_float("r1_weight", r1_weight)
        self.r1_every = check_positive_int("r1_every", r1_every)
        self.augmentation = get_augmentation(augment)
        # Build the optimizer slots now rather than on the first traced step.
        self.g_optimizer.build(self.generator.trainable_variables)
        self.d_optimizer.build(self.discriminator.trainable_variables)
        # What Keras sees as the model's optimizer (its JAX trainer carries
        # `optimizer.variables` from step to step).
        self.optimizer = OptimizerPair(self.g_optimizer, self.d_optimizer)

    def fit(self, x=None, y=None, *args, **kwargs):
        """`keras.Model.fit`, after checking that `x` holds images the
        generator could have made (shape, dtype and, for a tanh generator,
        the [-1, 1] range): a clear error now instead of a graph error later."""
        kwargs = checked_fit_arguments(x, self.image_shape, kwargs, bounded=_ends_in_tanh(self.generator))
        self._warn_if_discriminator_ends_in_sigmoid()
        history = super().fit(x, y, *args, **kwargs)
        self._finalize_optimizers()
        return history

    def _warn_if_discriminator_ends_in_sigmoid(self) -> None:
        # Said once per GAN: a sigmoid D under a loss on logits trains on the
        # wrong loss without any error (the grading checks' own detector).
        loss = getattr(self, "gan_loss", None)
        if self._checked_sigmoid or loss is None or loss.decision_boundary != 0.0:
            return
        self._checked_sigmoid = True
        from gan_keras.grading import ends_in_sigmoid

        # Fixed NumPy noise: the model's own seed generator must not move.
        noise = np.random.default_rng(0).standard_normal((4, self.latent_dim)).astype("float32")
        labels = np.zeros(4, "int32") if self.conditional else None
        # As NumPy: Keras refuses a tensor and an array side by side (a conditional D's [images, labels]).
        images = ops.convert_to_numpy(self.generator(self._with_labels(noise, labels), training=False))
        if ends_in_sigmoid(self.discriminator, self._with_labels(images, labels)):
            warnings.warn(
                f"the discriminator ends in a sigmoid: its outputs are probabilities in [0, 1], but the "
                f"{loss.name!r} loss reads them as logits and applies a sigmoid of its own, so D trains on the "
                "wrong loss. Remove the activation of its last layer so that it outputs a logit.",
                stacklevel=3,
            )

    def _finalize_optimizers(self) -> None:
        # At the end of `fit`, Keras lets `model.optimizer` finish its work
        # (an optimizer built with use_ema=True swaps its average into the
        # weights), but only when it is one `keras.optimizers.Optimizer`. A GAN
        # has two, each finalized here on the weights it trained.
        for optimizer, network in ((self.g_optimizer, self.generator), (self.d_optimizer, self.discriminator)):
            if int(ops.convert_to_numpy(optimizer.iterations)) > 0:  # an average exists only after a step
                optimizer.finalize_variable_values(network.trainable_variables)

    def call(self, inputs, training: bool = False):
        """Run the generator: ``gan(noise)`` or ``gan([noise, labels])``."""
        return self.generator(inputs, training=training)

    # ----------------------------------------------------------------- training
    def train_step(self, *args) -> dict:
        """Goodfellow et al. (2014), Algorithm 1, on one batch of real images:

        for each of `d_steps` (1, or 5 for WGAN-GP's critic):
            draw noise, generate a batch (held fixed) and update D on it;
        draw fresh noise and update G to fool the updated D;
        record the losses.

        Keras calls ``train_step(data)`` on TensorFlow and PyTorch. On JAX it
        calls ``train_step(state, data)`` and wants the new state back: the
        same step then runs in a scope over `state`
        (`gan_keras.autodiff.stateless_train_step`). `gan_step` is another
        name for this method.
        """
        if len(args) == 2:  # JAX
            state, data = args
            return stateless_train_step(self, state, lambda: self.train_step(data))
        real_images, labels, _ = keras.utils.unpack_x_y_sample_weight(args[0])
        if not self.conditional:
            labels = None  # an unconditional GAN ignores a dataset's labels
        elif labels is None:
            raise ValueError("this GAN is conditional (built with num_classes): the dataset must yield "
                             "(images, labels) batches; pass labels to gan_keras.make_dataset")
        if self.simultaneous:
            return self._simultaneous_step(real_images, labels)
        for _ in range(self.d_steps):
            d_logs = self.discriminator_step(real_images, labels)
        g_logs = self.generator_step(ops.shape(real_images)[0], labels)
        return self._record(d_logs["d_loss"], g_logs["g_loss"], d_logs["real_logits"], d_logs["fake_logits"])

    gan_step = train_step  # the algorithm's own name (notebooks, docs)

    def discriminator_step(self, real_images, labels=None) -> dict:
        """One discriminator update on `real_images` and a batch generated from fresh noise.

        Args:
            real_images: a batch of real images.
            labels: their classes, for a conditional GAN.

        Returns:
            ``{"d_loss", "real_logits", "fake_logits"}``, before the update.
        """
        real_images = ops.convert_to_tensor(real_images)  # a NumPy batch, when called by hand
        noise = self._sample_noise(ops.shape(real_images)[0])
        # G is held fixed while D learns: its images are constants here.
        fake_images = ops.stop_gradient(self.generator(self._with_labels(noise, labels), training=True))
        d_loss_fn = partial(self.discriminator_loss, real_images, fake_images, labels)
        d_loss, real_logits, fake_logits = descend(self, self.discriminator.trainable_variables, self.d_optimizer,
                                                   d_loss_fn)
        return {"d_loss": d_loss, "real_logits": real_logits, "fake_logits": fake_logits}

    def generator_step(self, batch_size: int, labels=None) -> dict:
        """One generator update on a fresh batch of noise, scored by the current D,
        then the moving average of G's weights (``compile(ema=...)``).

        The gradient of G's loss flows back through D (whose weights stay as
        they are) into G's weights.

        Args:
            batch_size: how many images to generate.
            labels: one class per image, for a conditional GAN.

        Returns:
            ``{"g_loss": ...}`` before the update.
        """
        noise = self._sample_noise(batch_size)

        def g_loss_fn():
            # `generator_loss`, with G's forward pass inside what is differentiated.
            fake_images = self.augment_images(self.generator(self._with_labels(noise, labels), training=True))
            fake_logits = self.discriminator(self._with_labels(fake_images, labels), training=True)
            return (global_batch_mean(self.gan_loss.generator(fake_logits)),)

        (g_loss,) = descend(self, self.generator.trainable_variables, self.g_optimizer, g_loss_fn)
        if self.generator_ema is not None:
            self.generator_ema.update(self.generator)
        return {"g_loss": g_loss}

    def _simultaneous_step(self, real_images, labels):
        # The TensorFlow DCGAN tutorial's rule (see `compile`): one forward
        # pass, both gradients taken before either network is updated.
        noise = self._sample_noise(ops.shape(real_images)[0])

        def losses_fn():
            fake_images = self.generator(self._with_labels(noise, labels), training=True)
            d_loss, real_logits, fake_logits = self.discriminator_loss(real_images, fake_images, labels)
            g_loss = global_batch_mean(self.gan_loss.generator(fake_logits))
            scaled = (self.d_optimizer.scale_loss(d_loss), self.g_optimizer.scale_loss(g_loss))
            return scaled, (d_loss, g_loss, real_logits, fake_logits)

        def update_both():
            networks = ((self.discriminator, self.d_optimizer), (self.generator, self.g_optimizer))
            _, aux, gradients = values_and_gradients(losses_fn, [model.trainable_variables for model, _ in networks])
            for (model, optimizer), model_gradients in zip(networks, gradients):
                apply_gradients(optimizer, model_gradients, model.trainable_variables)
            return aux

        d_loss, g_loss, real_logits, fake_logits = run_in_state(self, update_both)
        if self.generator_ema is not None:
            self.generator_ema.update(self.generator)
        return self._record(d_loss, g_loss, real_logits, fake_logits)

    def discriminator_loss(self, real_images, fake_images, labels=None):
        """D's loss on a real and a generated batch, averaged over the global batch.

        With ``compile(augment=...)`` D sees both batches through the same
        random transforms; with ``r1_weight`` its slope at the real images
        (as it sees them) is penalised.

        Returns:
            ``(d_loss, real_logits, fake_logits)``.
        """
        real_images, fake_images = self.augment_images(real_images), self.augment_images(fake_images)
        real_logits = self.discriminator(self._with_labels(real_images, labels), training=True)
        fake_logits = self.discriminator(self._with_labels(fake_images, labels), training=True)
        per_example = self.gan_loss.discriminator(real_logits, fake_logits, self.label_smoothing)
        if self.gan_loss.gradient_penalty:
            penalty = gradient_penalty(
                self.discriminator, real_images, ops.stop_gradient(fake_images), labels, seed=self.seed_generator
            )
            per_example = per_example + self.gradient_penalty_weight * penalty
        if self.r1_weight > 0:
            per_example = per_example + self._r1_term(real_images, labels)
        return global_batch_mean(per_example), real_logits, fake_logits

    def generator_loss(self, fake_images, labels=None):
        """G's loss: how well its images fool D, averaged over the global batch."""
        fake_logits = self.discriminator(self._with_labels(self.augment_images(fake_images), labels), training=True)
        return global_batch_mean(self.gan_loss.generator(fake_logits))

    def augment_images(self, images):
        """`images` as D sees them: through ``compile(augment=...)``'s random
        transforms (new ones every call), or unchanged."""
        if not self.augmentation.active:
            return images
        return diff_augment(images, self.augmentation, seed=self.seed_generator)

    def _r1_term(self, real_images, labels):
        # gamma / 2 * ||grad D||^2; with lazy regularisation, r1_every times
        # as much on every r1_every-th step, nothing on the others.
        def penalty():
            weight = 0.5 * self.r1_weight * self.r1_every
            return ops.cast(weight * r1_penalty(self.discriminator, real_images, labels), "float32")

        if self.r1_every == 1:
            return penalty()
        if keras.backend.backend() == "jax":
            # A branch of JAX's `cond` may not change state, and D's pass changes its dropout
            # layers' seeds: there it runs in a scope of its own, whose changes are dropped.
            unchanged = penalty

            def penalty():
                with keras.StatelessScope(state_mapping=[(v, v.value) for v in self.discriminator.variables]):
                    return unchanged()
        due = ops.equal(ops.mod(self.d_optimizer.iterations, self.r1_every), 0)
        return ops.cond(due, penalty, lambda: ops.zeros((ops.shape(real_images)[0],), dtype="float32"))

    def _record(self, d_loss, g_loss, real_logits, fake_logits) -> dict:
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        if self.reports_accuracy:
            # D calls an image real above the loss's own boundary (0.5 for
            # LSGAN, whose targets are 0 and 1; logit 0 for the others).
            boundary = self.gan_loss.decision_boundary
            self.real_accuracy_tracker.update_state(ops.mean(ops.cast(real_logits > boundary, "float32")))
            self.fake_accuracy_tracker.update_state(ops.mean(ops.cast(fake_logits <= boundary, "float32")))
        return {metric.name: metric.result() for metric in self.metrics}

    def _sample_noise(self, batch_size):
        # Under a distribution strategy each replica takes its slice of one
        # global draw, so the step matches a single-device step (what
        # `distribute.replica_random` does, written out here to show where the noise comes from).
        replicas, index = replica_position()
        noise = keras.random.normal((batch_size * replicas, self.latent_dim), seed=self.seed_generator)
        return noise if replicas == 1 else noise[index * batch_size:(index + 1) * batch_size]

    def _with_labels(self, inputs, labels):
        return inputs if labels is None else [inputs, labels]

    # --------------------------------------------------------------- generating
    def generate(self, n: int, labels=None, seed: int | None = None, batch_size: int = 256) -> np.ndarray:
        """Generate `n` images in [-1, 1].

        Args:
            n: number of images.
            labels: class of each image, for a conditional GAN (an int for
                all, or a sequence of length `n`); default cycles 0, 1, 2, ...
            seed: fixes the noise, so the same seed gives the same images;
                without it the model's own seed generator moves on.
            batch_size: images per forward pass.

        Returns:
            A float32 NumPy array ``[n, height, width, channels]``.
        """
        return generate_images(
            self.sampling_generator(), n, labels=labels, seed=seed, batch_size=batch_size,
            seed_generator=self.seed_generator, latent_dim=self.latent_dim,
        )

    def sampling_generator(self) -> keras.Model:
        """The generator to draw samples from: G itself or, when compiled
        with ``ema``, a copy of G holding the moving average of its weights."""
        if self.generator_ema is None:
            return self.generator
        # A fresh copy each time: kept as an attribute, Keras would track it
        # as part of the GAN (and save and train-step it).
        return self.generator_ema.copy_to(keras.models.clone_model(self.generator))

    # ------------------------------------------------------------ serialization
    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            generator=keras.saving.serialize_keras_object(self.generator),
            discriminator=keras.saving.serialize_keras_object(self.discriminator),
            latent_dim=self.latent_dim,
            seed=self.seed,
        )
        return config

    def get_compile_config(self) -> dict | None:
        """What `compile` was given, so that `keras.models.load_model` returns
        a GAN ready to train on (optimizer slots included)."""
        if not hasattr(self, "gan_loss"):
            return None
        return {
            "g_optimizer": keras.saving.serialize_keras_object(self.g_optimizer),
            "d_optimizer": keras.saving.serialize_keras_object(self.d_optimizer),
            "loss": self.gan_loss.name,
            "label_smoothing": self.label_smoothing,
            "d_steps": self.d_steps,
            "gradient_penalty_weight": self.gradient_penalty_weight,
            "simultaneous": self.simultaneous,
            "ema": self.generator_ema.decay if self.generator_ema is not None else 0.0,
            "r1_weight": self.r1_weight,
            "r1_every": self.r1_every,
            "augment": _augmentation_name(self.augmentation),
        }

    def compile_from_config(self, config: dict) -> None:
        config = dict(config)
        for name in ("g_optimizer", "d_optimizer"):
            config[name] = keras.saving.deserialize_keras_object(config[name])
        if isinstance(config.get("augment"), dict):
            config["augment"] = Augmentation(**config["augment"])
        if config["loss"] not in LOSSES:
            warnings.warn(
                f"the saved GAN was compiled with the custom loss {config['loss']!r}, which cannot be "
                "restored from a file; call compile() with it before training",
                stacklevel=2,
            )
            return
        self.compile(**config)

    @classmethod
    def from_config(cls, config: dict) -> "GAN":
        config = dict(config)
        config["generator"] = keras.saving.deserialize_keras_object(config["generator"])
        config["discriminator"] = keras.saving.deserialize_keras_object(config["discriminator"])
        return cls(**config)


def generate_images(
    generator: keras.Model,
    n: int,
    labels=None,
    seed: int | None = None,
    batch_size: int = 256,
    seed_generator: keras.random.SeedGenerator | None = None,
    latent_dim: int | None = None,
) -> np.ndarray:
    """Run a (possibly conditional) generator on `n` noise vectors.

    Args:
        generator: a model from `build_generator` (or loaded from ``.keras``).
        n: number of images.
        labels: for a conditional generator: an int, or a sequence of length `n`.
        seed: integer seed for the noise (repeatable); else `seed_generator`
            or an unseeded draw is used.
        batch_size: images per forward pass.
        seed_generator: the `SeedGenerator` to draw from when `seed` is None.
        latent_dim: the noise size, needed for a subclassed generator (one
            without declared inputs); else read from its input.

    Returns:
        A float32 NumPy array of `n` images in [-1, 1].
    """
    n = check_positive_int("n", n)
    batch_size = check_positive_int("batch_size", batch_size)
    latent_dim = noise_size(generator, latent_dim)
    noise_seed = seed if seed is not None else seed_generator
    noise = keras.random.normal((n, latent_dim), seed=noise_seed)
    inputs = noise
    if is_conditional(generator):
        inputs = [noise, labels_for(n, labels, num_classes_of(generator))]
    elif labels is not None:
        raise ValueError("`labels` were given but the generator is not conditional (built without num_classes)")
    return call_in_batches(generator, inputs, batch_size)


def call_in_batches(model: keras.Model, inputs, batch_size: int = 256):
    """Run `model` on `inputs` (an array or a list of arrays) batch by batch.

    Called directly rather than through `predict`: `predict` traces a new
    graph for every model it meets, and a notebook that builds many models
    would fill with TensorFlow's "excessive retracing" warnings.

    Returns:
        A float32 NumPy array, or a list of them for a model with several outputs.
    """
    # Keras refuses a mix of tensors and NumPy arrays in one call.
    parts = [keras.ops.convert_to_tensor(part) for part in (inputs if isinstance(inputs, (list, tuple)) else [inputs])]
    total = int(parts[0].shape[0])
    batches = []
    for start in range(0, total, batch_size):
        batch = [part[start:start + batch_size] for part in parts]
        result = model(batch if len(batch) > 1 else batch[0], training=False)
        results = result if isinstance(result, (list, tuple)) else [result]
        batches.append([keras.ops.convert_to_numpy(output).astype(np.float32) for output in results])
    outputs = [np.concatenate(pieces, axis=0) for pieces in zip(*batches)]
    return outputs if len(outputs) > 1 else outputs[0]


def labels_for(n: int, labels, num_classes: int) -> np.ndarray:
    """`n` class labels for a conditional generator, checked.

    Args:
        n: how many.
        labels: ``None`` (0, 1, 2, ... cycling), one int for all, or `n` ints.
        num_classes: the labels must lie in ``[0, num_classes)``.

    Returns:
        An int32 array of shape ``[n]``.
    """
    if labels is None:
        return np.arange(n, dtype=np.int32) % num_classes
    labels = np.asarray(labels)
    if labels.ndim == 0:
        labels = np.full(n, int(labels))
    if labels.shape != (n,):
        raise ValueError(f"`labels` must be one int or {n} ints, got shape {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"`labels` must be integers, got dtype {labels.dtype}")
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(f"`labels` must be in [0, {num_classes - 1}], got values in [{labels.min()}, {labels.max()}]")
    return labels.astype(np.int32)


def is_conditional(model: keras.Model) -> bool:
    """Whether `model` (a generator or discriminator from the builders) takes
    class labels as a second input (notebook 04). A subclassed model (no
    declared inputs) counts as unconditional."""
    return len(model_inputs(model) or []) == 2


def model_inputs(model: keras.Model) -> list | None:
    """The declared inputs of a functional or Sequential model; None for a
    subclassed one (a `keras.Model` with `call`, which has no `inputs`) or a
    Sequential model not built yet."""
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        return None
    return list(inputs) if inputs else None


def noise_size(generator: keras.Model, latent_dim: int | None = None) -> int:
    """The size of a generator's noise vector (or a decoder's code).

    Args:
        generator: any `keras.Model`: functional, Sequential or subclassed.
        latent_dim: the size, when the model cannot tell (a subclassed model
            not called yet); checked against the model's when both are known.

    Returns:
        The size from the model's declared input, else from the input it was
        first called on, else `latent_dim`.
    """
    inputs = model_inputs(generator)
    if inputs is None:
        called_on = _first_call_shape(generator)
        if called_on is None:
            if latent_dim is None:
                raise ValueError(
                    f"`latent_dim` is needed: the generator {generator.name!r} declares no input (a subclassed "
                    "keras.Model not called yet, or a Sequential model without input_shape), so the noise size "
                    "cannot be read from it; pass e.g. latent_dim=100"
                )
            return check_positive_int("latent_dim", latent_dim)
        inferred = int(called_on[-1])
    else:
        inferred = int(inputs[0].shape[-1])
    if latent_dim is not None and check_positive_int("latent_dim", latent_dim) != inferred:
        raise ValueError(f"`latent_dim` is {latent_dim} but the generator's noise input has size {inferred}")
    return inferred


def _first_call_shape(model: keras.Model) -> tuple | None:
    """The shape of the one input a subclassed model was first called (or
    built) on, which Keras records; None if it was not called yet, or took
    several inputs."""
    shapes = getattr(model, "_build_shapes_dict", None)
    if not isinstance(shapes, dict) or len(shapes) != 1:
        return None
    shape = next(iter(shapes.values()))
    if not isinstance(shape, (tuple, list)) or len(shape) != 2 or not isinstance(shape[-1], int):
        return None  # noise is (batch, latent_dim)
    return tuple(shape)


def _build_networks(gan: "GAN") -> tuple:
    """Call an unbuilt generator on noise and an unbuilt discriminator on its
    images, creating their weights; returns the image shape (no batch axis)."""
    generator, discriminator = gan.generator, gan.discriminator
    outputs = model_inputs(generator) and generator.outputs
    if outputs and discriminator.built:
        return tuple(int(size) for size in outputs[0].shape[1:])
    noise = np.zeros((2, gan.latent_dim), "float32")
    labels = np.zeros(2, "int32")
    try:
        images = generator(gan._with_labels(noise, labels if gan.conditional else None), training=False)
    except Exception as error:
        raise ValueError(f"`generator` could not be called on noise of shape (batch, {gan.latent_dim}): "
                         f"{type(error).__name__}: {error}") from error
    if not discriminator.built:
        try:
            discriminator(gan._with_labels(images, labels if gan.conditional else None), training=False)
        except Exception as error:
            raise ValueError(f"`discriminator` could not be called on the generator's images of shape "
                             f"{tuple(images.shape)}: {type(error).__name__}: {error}") from error
    return tuple(int(size) for size in images.shape[1:])


def _ends_in_tanh(generator: keras.Model) -> bool:
    """Whether the generator's last activation is tanh (images in [-1, 1])."""
    for layer in reversed(generator.layers):
        activation = getattr(layer, "activation", None)
        if activation is not None:
            return getattr(activation, "__name__", "") == "tanh"
    return False


def _augmentation_name(augmentation: Augmentation) -> str | dict:
    for name, named in AUGMENTATIONS.items():
        if named == augmentation:
            return name
    return {"translation": augmentation.translation, "cutout": augmentation.cutout, "fill": augmentation.fill}


def num_classes_of(generator: keras.Model) -> int:
    """The number of classes a conditional model's label `Embedding` takes."""
    for layer in generator.layers:
        if isinstance(layer, keras.layers.Embedding):
            return int(layer.input_dim)
    raise ValueError("a conditional generator must contain a label Embedding layer")
