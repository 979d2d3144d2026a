"""The grading checks (`gan_keras.grading`): a catalogue of typical wrong student
answers, each caught by the right check with the right message, and the
reference answers passing with sensible reports.

The models are tiny (16x16 images, a few filters) so the whole file runs in
seconds; only the two `check_learns` runs train for a few seconds each.
"""

import warnings

import imageio.v3 as iio
import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers, ops

from gan_keras import GAN, build_discriminator, build_generator
from gan_keras import grading as checks
from gan_keras.losses import non_saturating_generator_loss

LATENT_DIM = 8
IMAGE_SHAPE = (16, 16, 1)
NUM_CLASSES = 4

cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True)


# ------------------------------------------------------- student-like answers
def student_generator(
    *,
    channels=1,
    output_activation="tanh",
    ignore_noise=False,
    batch_norm_trainable=True,
    batch_norm_training=None,
    batch_norm_momentum=0.99,
    stop_gradient_inside=False,
):
    """A small DCGAN generator written the way a student would, with one knob per mistake."""
    noise = keras.Input((LATENT_DIM,))
    # The classic "ignores the noise" bug: the network is built on a constant.
    x = ops.zeros_like(noise) if ignore_noise else noise
    x = layers.Dense(4 * 4 * 16, use_bias=False)(x)
    norm = layers.BatchNormalization(momentum=batch_norm_momentum, trainable=batch_norm_trainable)
    # In a functional model `norm(x, training=False)` is overridden by the model's own mode, so
    # the "always in inference mode" mistake lives in a custom block, as students write it.
    x = InferenceOnly(norm)(x) if batch_norm_training is False else norm(x)
    x = layers.LeakyReLU(0.2)(x)
    x = layers.Reshape((4, 4, 16))(x)
    if stop_gradient_inside:
        x = ops.stop_gradient(x)
    x = layers.Conv2DTranspose(8, 4, strides=2, padding="same")(x)
    x = layers.LeakyReLU(0.2)(x)
    images = layers.Conv2DTranspose(channels, 4, strides=2, padding="same", activation=output_activation)(x)
    return keras.Model(noise, images)


class InferenceOnly(layers.Layer):
    """A student's own block that always runs its layer in inference mode (``training=False``)."""

    def __init__(self, layer, **kwargs):
        super().__init__(**kwargs)
        self.layer = layer

    def call(self, x):
        return self.layer(x, training=False)


def student_discriminator(*, output_activation=None, flatten=True, block_input=None, dropout_training=None):
    """A small DCGAN discriminator, with one knob per mistake."""
    images = keras.Input(IMAGE_SHAPE)
    x = images
    if block_input == "stop_gradient":
        x = ops.stop_gradient(x)
    elif block_input == "round":
        x = ops.round(x)  # "binarise the digits": the gradient of round is zero
    x = layers.Conv2D(8, 4, strides=2, padding="same")(x)
    x = layers.LeakyReLU(0.2)(x)
    dropout = layers.Dropout(0.3, seed=1)
    x = InferenceOnly(dropout)(x) if dropout_training is False else dropout(x)
    x = layers.Conv2D(16, 4, strides=2, padding="same")(x)
    x = layers.LeakyReLU(0.2)(x)
    if flatten:
        x = layers.Flatten()(x)
    logits = layers.Dense(1, activation=output_activation)(x)
    return keras.Model(images, logits)


def student_conditional(*, generator_uses_labels=True, discriminator_uses_labels=True, embedding_size=NUM_CLASSES):
    """A small conditional MLP pair, with the label input optionally left unused."""
    noise, labels = keras.Input((LATENT_DIM,)), keras.Input((), dtype="int32")
    embedded = layers.Embedding(embedding_size, 4)(labels)
    x = layers.Concatenate()([noise, embedded]) if generator_uses_labels else noise
    x = layers.LeakyReLU(0.2)(layers.Dense(32)(x))
    x = layers.Dense(int(np.prod(IMAGE_SHAPE)), activation="tanh")(x)
    generator = keras.Model([noise, labels], layers.Reshape(IMAGE_SHAPE)(x))

    images, d_labels = keras.Input(IMAGE_SHAPE), keras.Input((), dtype="int32")
    d_embedded = layers.Embedding(NUM_CLASSES, 4)(d_labels)
    x = layers.Flatten()(images)
    x = layers.Concatenate()([x, d_embedded]) if discriminator_uses_labels else x
    x = layers.LeakyReLU(0.2)(layers.Dense(32)(x))
    discriminator = keras.Model([images, d_labels], layers.Dense(1)(x))
    return generator, discriminator


def reference_discriminator_loss(real_logits, fake_logits):
    real_loss = cross_entropy(ops.ones_like(real_logits), real_logits)
    return real_loss + cross_entropy(ops.zeros_like(fake_logits), fake_logits)


def reference_generator_loss(fake_logits):
    return cross_entropy(ops.ones_like(fake_logits), fake_logits)


def swapped_discriminator_loss(real_logits, fake_logits):
    real_loss = cross_entropy(ops.zeros_like(real_logits), real_logits)  # real called fake, and vice versa
    return real_loss + cross_entropy(ops.ones_like(fake_logits), fake_logits)


def sigmoid_twice_discriminator_loss(real_logits, fake_logits):
    # A sigmoid "to get probabilities", then a from_logits loss. (tf.math.sigmoid, eagerly: the
    # value is wrong. With keras.ops.sigmoid, TensorFlow's Keras recovers the logits and only
    # warns, so the value is right there and wrong on JAX and PyTorch: see the catalogue.)
    return reference_discriminator_loss(tf.math.sigmoid(real_logits), tf.math.sigmoid(fake_logits))


def probabilities_discriminator_loss(real_logits, fake_logits):
    bce = keras.losses.BinaryCrossentropy()  # from_logits=False on logits
    return bce(ops.ones_like(real_logits), real_logits) + bce(ops.zeros_like(fake_logits), fake_logits)


def summed_discriminator_loss(real_logits, fake_logits):
    bce = keras.losses.BinaryCrossentropy(from_logits=True, reduction="sum")
    return bce(ops.ones_like(real_logits), real_logits) + bce(ops.zeros_like(fake_logits), fake_logits)


def joined_batch_discriminator_loss(real_logits, fake_logits):
    # One cross-entropy over real and fake together: half the expected sum of the two means.
    logits = ops.concatenate([real_logits, fake_logits], axis=0)
    targets = ops.concatenate([ops.ones_like(real_logits), ops.zeros_like(fake_logits)], axis=0)
    return cross_entropy(targets, logits)


def negated_discriminator_loss(real_logits, fake_logits):
    return -reference_discriminator_loss(real_logits, fake_logits)


def per_example_discriminator_loss(real_logits, fake_logits):
    return ops.softplus(-real_logits) + ops.softplus(fake_logits)


def unfinished_loss(*logits):
    return None  # the shipped TODO stub


def minimax_generator_loss(fake_logits):
    return -cross_entropy(ops.zeros_like(fake_logits), fake_logits)


def target_zero_generator_loss(fake_logits):
    return cross_entropy(ops.zeros_like(fake_logits), fake_logits)


def negated_generator_loss(fake_logits):
    return -reference_generator_loss(fake_logits)


def detached_generator_loss(fake_logits):
    return reference_generator_loss(ops.stop_gradient(fake_logits))


def numpy_generator_loss(fake_logits):
    return float(reference_generator_loss(fake_logits))


def summed_generator_loss(fake_logits):
    return ops.sum(ops.softplus(-fake_logits))


def compiled_gan(generator_loss=reference_generator_loss, seed=0):
    keras.utils.set_random_seed(seed)
    gan = GAN(student_generator(), student_discriminator(), seed=seed)
    gan.compile(loss=checks.as_gan_loss(reference_discriminator_loss, generator_loss))
    return gan


class StudentSteps:
    """A hand-written pair of updates (TensorFlow's DCGAN tutorial style), with one knob per mistake."""

    def __init__(self, mistake=None, seed=0):
        keras.utils.set_random_seed(seed)
        self.generator, self.discriminator = student_generator(), student_discriminator()
        self.g_optimizer = keras.optimizers.Adam(1e-3)
        self.d_optimizer = keras.optimizers.Adam(1e-3)
        self.mistake = mistake

    def discriminator_step(self, real_images):
        noise = tf.random.normal((len(real_images), LATENT_DIM), seed=1)
        with tf.GradientTape() as tape:
            fake_images = self.generator(noise, training=True)
            loss = reference_discriminator_loss(self.discriminator(real_images, training=True),
                                                self.discriminator(fake_images, training=True))
        # Correct: only D's variables. The mistake: one list for both networks.
        variables = self.discriminator.trainable_variables
        if self.mistake == "d_step_updates_g":
            variables = variables + self.generator.trainable_variables
        self.d_optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return {"d_loss": loss}

    def generator_step(self, batch_size):
        noise = tf.random.normal((batch_size, LATENT_DIM), seed=2)
        with tf.GradientTape() as tape:
            fake_images = self.generator(noise, training=self.mistake != "g_inference_mode")
            if self.mistake == "detached":
                fake_images = tf.stop_gradient(fake_images)
            loss = reference_generator_loss(self.discriminator(fake_images, training=True))
        variables = self.generator.trainable_variables
        if self.mistake == "g_step_updates_d":
            variables = variables + self.discriminator.trainable_variables
        gradients = [tf.zeros_like(v) if g is None else g for v, g in zip(variables, tape.gradient(loss, variables))]
        self.g_optimizer.apply_gradients(zip(gradients, variables))
        return {"g_loss": loss}


class StudentTrainStep(keras.Model):
    """A student's whole `train_step` on a keras.Model subclass (no separate D and G steps)."""

    def __init__(self, detach=False):
        super().__init__()
        self.generator, self.discriminator = student_generator(), student_discriminator()
        self.g_optimizer = keras.optimizers.Adam(1e-3)
        self.d_optimizer = keras.optimizers.Adam(1e-3)
        self.detach = detach

    def train_step(self, real_images):
        noise = tf.random.normal((tf.shape(real_images)[0], LATENT_DIM), seed=3)
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake_images = self.generator(noise, training=True)
            if self.detach:
                fake_images = tf.stop_gradient(fake_images)
            real_logits = self.discriminator(real_images, training=True)
            fake_logits = self.discriminator(fake_images, training=True)
            d_loss = reference_discriminator_loss(real_logits, fake_logits)
            g_loss = reference_generator_loss(fake_logits)
        g_vars, d_vars = self.generator.trainable_variables, self.discriminator.trainable_variables
        g_grads = [tf.zeros_like(v) if g is None else g for v, g in zip(g_vars, g_tape.gradient(g_loss, g_vars))]
        self.g_optimizer.apply_gradients(zip(g_grads, g_vars))
        self.d_optimizer.apply_gradients(zip(d_tape.gradient(d_loss, d_vars), d_vars))
        return {"d_loss": d_loss, "g_loss": g_loss}


def write_gif(path, values, titles=None):
    """A GIF of 40x40 frames: a title band (the top 4 rows) and an image of one grey value below it."""
    frames = []
    for index, value in enumerate(values):
        frame = np.full((40, 40, 3), value, dtype=np.uint8)
        frame[:4] = titles[index] if titles is not None else 255
        frames.append(frame)
    iio.imwrite(path, np.stack(frames), extension=".gif", duration=100, loop=0)
    return path


# --------------------------------------------------------------- the catalogue
# (check, the wrong answer, a distinctive part of the message the student must see)
WRONG_ANSWERS = {
    "generator: wrong output shape (3 channels for grey digits)": (
        lambda: checks.check_generator(student_generator(channels=3), LATENT_DIM, IMAGE_SHAPE),
        "returns images of shape (16, 16, 3) per input, expected (16, 16, 1)"),
    "generator: sigmoid output": (
        lambda: checks.check_generator(student_generator(output_activation="sigmoid"), LATENT_DIM, IMAGE_SHAPE),
        "outputs are never negative"),
    "generator: missing tanh (linear output)": (
        lambda: checks.check_generator(student_generator(output_activation=None), LATENT_DIM, IMAGE_SHAPE),
        "end it with a tanh activation"),
    "generator: scaled tanh that never reaches -1 and 1": (
        lambda: checks.check_generator(
            keras.Sequential([student_generator(), layers.Rescaling(0.5)]), LATENT_DIM, IMAGE_SHAPE),
        "never come near -1 or 1"),
    "generator: ignores the noise": (
        lambda: checks.check_generator(student_generator(ignore_noise=True), LATENT_DIM, IMAGE_SHAPE),
        "makes the same image whatever the noise"),
    "generator: wrong noise size": (
        lambda: checks.check_generator(student_generator(), LATENT_DIM + 1, IMAGE_SHAPE),
        "noise input has shape (None, 8), expected (None, 9)"),
    "generator: BatchNorm frozen with trainable=False": (
        lambda: checks.check_generator(student_generator(batch_norm_trainable=False), LATENT_DIM, IMAGE_SHAPE),
        "are frozen (trainable=False)"),
    "generator: BatchNorm always called with training=False": (
        lambda: checks.check_generator(student_generator(batch_norm_training=False), LATENT_DIM, IMAGE_SHAPE),
        "are called with training=False"),
    "generator: BatchNorm whose statistics never move (momentum=1)": (
        lambda: checks.check_generator(student_generator(batch_norm_momentum=1.0), LATENT_DIM, IMAGE_SHAPE),
        "never update their moving statistics"),
    "generator: stop_gradient inside, early layers get no gradient": (
        lambda: checks.check_generator(student_generator(stop_gradient_inside=True), LATENT_DIM, IMAGE_SHAPE),
        "No gradient reaches these weights of the generator"),
    "generator: not built yet (the TODO stub returns None)": (
        lambda: checks.check_generator(None, LATENT_DIM, IMAGE_SHAPE),
        "has not been built yet"),
    "discriminator: sigmoid output (with from_logits losses)": (
        lambda: checks.check_discriminator(student_discriminator(output_activation="sigmoid"), IMAGE_SHAPE),
        "ends in a sigmoid"),
    "discriminator: ReLU output, never negative": (
        lambda: checks.check_discriminator(student_discriminator(output_activation="relu"), IMAGE_SHAPE),
        "never negative (ReLU"),
    "discriminator: tanh output": (
        lambda: checks.check_discriminator(student_discriminator(output_activation="tanh"), IMAGE_SHAPE),
        "outputs are bounded"),
    "discriminator: one value per pixel, no Flatten": (
        lambda: checks.check_discriminator(student_discriminator(flatten=False), IMAGE_SHAPE),
        "returns (4, 4, 1) values per image"),
    "discriminator: gradients stopped at the input": (
        lambda: checks.check_discriminator(student_discriminator(block_input="stop_gradient"), IMAGE_SHAPE),
        "No gradient reaches the discriminator's input images"),
    "discriminator: rounds its input, a zero gradient": (
        lambda: checks.check_discriminator(student_discriminator(block_input="round"), IMAGE_SHAPE),
        "No gradient reaches the discriminator's input images"),
    "discriminator: dropout always called with training=False": (
        lambda: checks.check_discriminator(student_discriminator(dropout_training=False), IMAGE_SHAPE),
        "are called with training=False"),
    "conditional: generator ignores the labels": (
        lambda: checks.check_conditional(*student_conditional(generator_uses_labels=False), NUM_CLASSES,
                                         LATENT_DIM, IMAGE_SHAPE),
        "makes the same images whatever the labels"),
    "conditional: discriminator ignores the labels": (
        lambda: checks.check_conditional(*student_conditional(discriminator_uses_labels=False), NUM_CLASSES,
                                         LATENT_DIM, IMAGE_SHAPE),
        "gives the same logits whatever the labels"),
    "conditional: Embedding with too few classes": (
        lambda: checks.check_conditional(*student_conditional(embedding_size=2), NUM_CLASSES, LATENT_DIM,
                                         IMAGE_SHAPE),
        "input_dim=2, fewer than the 4 classes"),
    "conditional: an unconditional generator": (
        lambda: checks.check_conditional(student_generator(), student_conditional()[1], NUM_CLASSES, LATENT_DIM,
                                         IMAGE_SHAPE),
        "takes 1 input(s) but should take 2"),
    "D loss: swapped real/fake labels": (
        lambda: checks.check_discriminator_loss(swapped_discriminator_loss), "the labels are swapped"),
    "D loss: sigmoid applied twice": (
        lambda: checks.check_discriminator_loss(sigmoid_twice_discriminator_loss), "the sigmoid is applied twice"),
    "D loss: keras.ops.sigmoid, then from_logits=True (right value on TensorFlow only)": (
        lambda: checks.check_discriminator_loss(
            lambda r, f: reference_discriminator_loss(ops.sigmoid(r), ops.sigmoid(f))),
        "TensorFlow quietly undoes a keras.ops.sigmoid there"),
    "D loss: logits passed as probabilities (from_logits=False)": (
        lambda: checks.check_discriminator_loss(probabilities_discriminator_loss),
        "reads the logits as probabilities"),
    "D loss: summed instead of averaged": (
        lambda: checks.check_discriminator_loss(summed_discriminator_loss), "sums over the batch"),
    "D loss: one cross-entropy over the joined batch (half the sum)": (
        lambda: checks.check_discriminator_loss(joined_batch_discriminator_loss), "is half the expected value"),
    "D loss: wrong sign": (
        lambda: checks.check_discriminator_loss(negated_discriminator_loss), "negative of the cross-entropy"),
    "D loss: only the real term": (
        lambda: checks.check_discriminator_loss(lambda r, f: cross_entropy(ops.ones_like(r), r)),
        "only scores the real images"),
    "D loss: per-example values, not reduced": (
        lambda: checks.check_discriminator_loss(per_example_discriminator_loss), "instead of a scalar"),
    "D loss: the TODO stub returns None": (
        lambda: checks.check_discriminator_loss(unfinished_loss), "returned None"),
    "G loss: minimax written where non-saturating is asked": (
        lambda: checks.check_generator_loss(minimax_generator_loss), "is the minimax loss log(1 - D(G(z)))"),
    "G loss: non-saturating written where minimax is asked": (
        lambda: checks.check_generator_loss(reference_generator_loss, kind="minimax"),
        "is the non-saturating loss -log D(G(z)) where the minimax"),
    "G loss: target 0 (the fakes labelled fake)": (
        lambda: checks.check_generator_loss(target_zero_generator_loss), "gives the generated images the target 0"),
    "G loss: wrong sign": (
        lambda: checks.check_generator_loss(negated_generator_loss), "has the wrong sign"),
    "G loss: sigmoid applied twice": (
        lambda: checks.check_generator_loss(lambda f: reference_generator_loss(tf.math.sigmoid(f))),
        "applies a sigmoid to the logits and then a loss that applies it again"),
    "G loss: keras.ops.sigmoid, then from_logits=True (right value on TensorFlow only)": (
        lambda: checks.check_generator_loss(lambda f: reference_generator_loss(ops.sigmoid(f))),
        "TensorFlow quietly undoes a keras.ops.sigmoid there"),
    "G loss: summed instead of averaged": (
        lambda: checks.check_generator_loss(summed_generator_loss), "sums over the batch"),
    "G loss: detached logits (stop_gradient)": (
        lambda: checks.check_generator_loss(detached_generator_loss), "no gradient reaches the logits"),
    "G loss: detached logits (a Python float)": (
        lambda: checks.check_generator_loss(numpy_generator_loss), "no gradient reaches the logits"),
    "train step: detached generator output, the G step leaves G unchanged": (
        lambda: checks.check_train_step(StudentSteps("detached")), "The generator step left G's weights unchanged"),
    "train step: a GAN compiled with a detached G loss": (
        lambda: checks.check_train_step(compiled_gan(detached_generator_loss)),
        "The generator step left G's weights unchanged"),
    "train step: the D step also updates G": (
        lambda: checks.check_train_step(StudentSteps("d_step_updates_g")),
        "The discriminator step changed the generator's weights"),
    "train step: the G step also updates D": (
        lambda: checks.check_train_step(StudentSteps("g_step_updates_d")),
        "The generator step changed the discriminator's weights"),
    "train step: G run in inference mode in its own step": (
        lambda: checks.check_train_step(StudentSteps("g_inference_mode")), "ran G in inference mode"),
    "train step: a whole train_step with a detached generator output": (
        lambda: checks.check_train_step(StudentTrainStep(detach=True)),
        "After one train_step the generator's weights are unchanged"),
    "train step: the GAN is not compiled": (
        lambda: checks.check_train_step(GAN(student_generator(), student_discriminator())), "not compiled"),
    "train step: the TODO stub leaves gan = None": (
        lambda: checks.check_train_step(None), "has not been created yet"),
}


@pytest.mark.parametrize("case", list(WRONG_ANSWERS), ids=list(WRONG_ANSWERS))
def test_a_typical_wrong_answer_fails_its_check_with_the_right_message(case):
    check, expected_message = WRONG_ANSWERS[case]
    keras.utils.set_random_seed(0)
    with pytest.raises(AssertionError) as error:
        check()
    assert expected_message in str(error.value)


def test_the_catalogue_is_large_enough():
    assert len(WRONG_ANSWERS) >= 12


def test_messages_are_short_enough_for_a_student():
    # One or two sentences: no message in the catalogue runs past 3 sentences or ~400 characters.
    # (That each case raises at all is the test above.)
    messages = {}
    for case, (check, _) in WRONG_ANSWERS.items():
        keras.utils.set_random_seed(0)
        try:
            check()
        except AssertionError as error:
            messages[case] = str(error)
    assert len(messages) >= 12
    for case, message in messages.items():
        assert len(message) < 420 and message.count(". ") <= 2, (case, message)


# ------------------------------------------------------------ right answers
def test_reference_generator_and_discriminator_pass_with_their_reports():
    keras.utils.set_random_seed(0)
    for kind in ("dcgan", "mlp"):
        generator = build_generator(LATENT_DIM, IMAGE_SHAPE, kind=kind, base_filters=8, hidden_units=(32,))
        report = checks.check_generator(generator, LATENT_DIM, IMAGE_SHAPE)
        assert report["parameters"] == generator.count_params()
        low, high = report["output_range"]
        assert -1 <= low < 0 < high <= 1
        assert report["noise_spread"] > 0.3  # measured 0.7 (dcgan) and 0.9 (mlp)
        assert report["batch_norm_layers"] == (2 if kind == "dcgan" else 0)

        discriminator = build_discriminator(IMAGE_SHAPE, kind=kind, base_filters=8, hidden_units=(32,))
        report = checks.check_discriminator(discriminator, IMAGE_SHAPE)
        assert report["parameters"] == discriminator.count_params()
        assert report["logit_range"][0] < report["logit_range"][1]
        assert report["input_gradient"] > 0


def test_student_style_answers_pass():
    keras.utils.set_random_seed(0)
    assert checks.check_generator(student_generator(), LATENT_DIM, IMAGE_SHAPE)["batch_norm_layers"] == 1
    assert checks.check_discriminator(student_discriminator(), IMAGE_SHAPE)["input_gradient"] > 0
    report = checks.check_conditional(*student_conditional(), NUM_CLASSES, LATENT_DIM, IMAGE_SHAPE)
    assert report["generator_label_effect"] > 0 and report["discriminator_label_effect"] > 0


def test_reference_conditional_models_pass():
    keras.utils.set_random_seed(0)
    generator = build_generator(LATENT_DIM, IMAGE_SHAPE, num_classes=NUM_CLASSES, base_filters=8)
    discriminator = build_discriminator(IMAGE_SHAPE, num_classes=NUM_CLASSES, base_filters=8)
    report = checks.check_conditional(generator, discriminator, NUM_CLASSES, LATENT_DIM, IMAGE_SHAPE)
    assert report["generator_label_effect"] > 0 and report["discriminator_label_effect"] > 0
    assert -1 <= report["output_range"][0] < report["output_range"][1] <= 1


def test_reference_losses_pass_and_report_the_closed_form():
    real = np.array([2.1, -0.7, 1.4, 0.3, 3.2, -1.6, 0.9, 2.6])
    fake = np.array([-1.8, 0.6, -2.9, -0.4, 1.3, -3.5, -1.1, 0.2])
    softplus = lambda x: np.log1p(np.exp(x))  # noqa: E731
    report = checks.check_discriminator_loss(reference_discriminator_loss)
    assert report["expected"] == pytest.approx(np.mean(softplus(-real)) + np.mean(softplus(fake)))
    assert report["loss"] == pytest.approx(report["expected"], rel=1e-5)

    report = checks.check_generator_loss(reference_generator_loss)
    assert report["kind"] == "non_saturating"
    assert report["loss"] == pytest.approx(np.mean(softplus(-fake)), rel=1e-5)
    report = checks.check_generator_loss(minimax_generator_loss, kind="minimax")
    assert report["loss"] == pytest.approx(-np.mean(softplus(fake)), rel=1e-5)
    # The library's per-example loss, averaged, is a right answer too.
    report = checks.check_generator_loss(lambda f: ops.mean(non_saturating_generator_loss(f)))
    assert report["loss"] == pytest.approx(report["expected"], rel=1e-5)


def test_a_right_train_step_passes_and_leaves_the_gan_as_it_found_it():
    gan = compiled_gan()
    variables = gan.variables + gan.g_optimizer.variables + gan.d_optimizer.variables
    before = [np.array(v.numpy()) for v in variables]
    report = checks.check_train_step(gan)
    assert report["d_variables_updated"] == len(gan.discriminator.trainable_variables)
    assert report["g_variables_updated"] == len(gan.generator.trainable_variables)
    assert np.isfinite(report["d_loss"]) and np.isfinite(report["g_loss"])
    assert all(np.array_equal(old, v.numpy()) for old, v in zip(before, variables))


def test_hand_written_steps_and_a_whole_train_step_pass():
    report = checks.check_train_step(StudentSteps())
    assert report["d_variables_updated"] > 0 and report["g_variables_updated"] > 0
    report = checks.check_train_step(StudentTrainStep())
    assert report["d_variables_updated"] > 0 and report["g_variables_updated"] > 0


def test_conditional_gan_train_step_passes():
    keras.utils.set_random_seed(0)
    gan = GAN(build_generator(LATENT_DIM, IMAGE_SHAPE, num_classes=NUM_CLASSES, base_filters=8),
              build_discriminator(IMAGE_SHAPE, num_classes=NUM_CLASSES, base_filters=8), seed=0)
    gan.compile()
    report = checks.check_train_step(gan, labels=np.array([0, 1, 2, 3, 0, 1, 2, 3]))
    assert report["g_variables_updated"] == len(gan.generator.trainable_variables)


def test_check_generator_leaves_batch_norm_statistics_as_they_were():
    generator = student_generator()
    before = [np.array(v.numpy()) for v in generator.non_trainable_variables]
    checks.check_generator(generator, LATENT_DIM, IMAGE_SHAPE)
    assert all(np.array_equal(old, v.numpy()) for old, v in zip(before, generator.non_trainable_variables))


# ------------------------------------------------------------------- learning
def test_check_learns_passes_with_the_reference_losses():
    report = checks.check_learns(reference_discriminator_loss, reference_generator_loss)
    # Measured: 8 of 8 modes for seed 0 on the 2-core test machine (7-8 over seeds 0-7).
    assert report["modes_covered"] >= 4 and report["modes"] == 8
    assert report["high_quality_share"] > 0.1
    assert report["seconds"] < 60


def test_check_learns_fails_when_the_discriminator_learns_the_wrong_way_round():
    with pytest.raises(AssertionError) as error:
        checks.check_learns(swapped_discriminator_loss, reference_generator_loss)
    assert "correct losses cover at least 4" in str(error.value)


def test_check_learns_fails_fast_on_an_unfinished_loss():
    with pytest.raises(AssertionError, match="generator_loss returned None"):
        checks.check_learns(reference_discriminator_loss, unfinished_loss)


def test_as_gan_loss_spreads_the_batch_mean_over_the_batch():
    loss = checks.as_gan_loss(reference_discriminator_loss, reference_generator_loss)
    fake = ops.convert_to_tensor(np.array([[0.5], [-1.0], [2.0]], dtype="float32"))
    per_example = ops.convert_to_numpy(loss.generator(fake))
    assert per_example.shape == (3,)
    assert np.mean(per_example) == pytest.approx(float(reference_generator_loss(fake)), rel=1e-6)


# ------------------------------------------------------------------------ GIF
def test_check_training_gif(tmp_path):
    report = checks.check_training_gif(write_gif(tmp_path / "good.gif", [0, 120, 250]))
    assert report["frames"] == 3 and (report["height"], report["width"]) == (40, 40)
    assert report["change"] == pytest.approx(250, abs=2)
    with pytest.raises(AssertionError, match="There is no GIF"):
        checks.check_training_gif(tmp_path / "missing.gif")
    # A generator that never changed: only the titles ("epoch 1", "epoch 2", ...) differ.
    with pytest.raises(AssertionError, match="frames of the GIF show the same images"):
        checks.check_training_gif(write_gif(tmp_path / "still.gif", [90, 90, 90], titles=[0, 100, 200]))
    with pytest.raises(AssertionError, match=r"has 2 frame\(s\), fewer than 5"):
        checks.check_training_gif(write_gif(tmp_path / "short.gif", [0, 200]), min_frames=5)
    # Grids saved, no GIF: fit was stopped before it ended (a grader's cell time-out).
    (tmp_path / "cut" / "grids").mkdir(parents=True)
    for epoch in (1, 2):
        (tmp_path / "cut" / "grids" / f"epoch_{epoch:03d}.png").write_bytes(b"")
    with pytest.raises(AssertionError, match=r"2 epoch grid\(s\) were saved .* stopped before fit finished"):
        checks.check_training_gif(tmp_path / "cut" / "training.gif")


def test_checks_keep_warnings_off_stderr_and_in_their_report():
    """nbgrader zeroes a graded cell with anything on stderr: a D ending in a sigmoid with
    from_logits losses makes Keras warn during the train step, and check_train_step (whose
    business is not D's last layer) must pass without letting that warning out."""
    gan = GAN(student_generator(), student_discriminator(output_activation="sigmoid"), seed=0)
    gan.compile(loss=checks.as_gan_loss(reference_discriminator_loss, reference_generator_loss))
    with warnings.catch_warnings(record=True) as escaped:
        warnings.simplefilter("always")
        report = checks.check_train_step(gan)
    assert escaped == []
    assert any("from_logits=True" in warning for warning in report["warnings"]), report


# ----------------------------------------------------- the teacher's mistakes
def test_bad_arguments_are_type_and_value_errors_naming_the_argument():
    generator = student_generator()
    with pytest.raises(TypeError, match="`model` must be a keras.Model"):
        checks.check_generator(layers.Dense(3), LATENT_DIM, IMAGE_SHAPE)
    with pytest.raises(TypeError, match="`latent_dim`"):
        checks.check_generator(generator, "8", IMAGE_SHAPE)
    with pytest.raises(ValueError, match="`image_shape` must hold positive sizes"):
        checks.check_generator(generator, LATENT_DIM, (16, 0, 1))
    with pytest.raises(TypeError, match="`image_shape` must be a tuple of ints"):
        checks.check_discriminator(student_discriminator(), 16)
    with pytest.raises(ValueError, match="`kind`"):
        checks.check_generator_loss(reference_generator_loss, kind="wasserstein")
    with pytest.raises(TypeError, match="`discriminator_loss` must be a function"):
        checks.check_discriminator_loss("bce")
    with pytest.raises(ValueError, match="`min_modes` must be at most `modes`"):
        checks.check_learns(reference_discriminator_loss, reference_generator_loss, min_modes=9)
    with pytest.raises(ValueError, match="`num_classes`"):
        checks.check_conditional(*student_conditional(), 1, LATENT_DIM, IMAGE_SHAPE)
    with pytest.raises(TypeError, match="`gan` must have `generator` and `discriminator`"):
        checks.check_train_step(object())
    with pytest.raises(ValueError, match="`real_images`"):
        checks.check_train_step(compiled_gan(), real_images=np.zeros((4, 8, 8, 1)))
    with pytest.raises(TypeError, match="`path`"):
        checks.check_training_gif(3)
