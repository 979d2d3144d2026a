"""The discriminator's regularisers: the R1 penalty and differentiable augmentation (DiffAugment).

Each backend runs the same closed-form and gradient checks in tests/backend_checks.py
(`regularisers_on_a_linear_d`); these run on TensorFlow and look closer.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from gan_keras import GAN, build_discriminator, build_generator, make_dataset
from gan_keras.augment import AUGMENTATIONS, Augmentation, cutout, diff_augment, get_augmentation, translate
from gan_keras.losses import r1_penalty

SIZE = 28


def _linear_gan(seed=0):
    """A tiny generator and a linear D(x) = w . x + b, whose input gradient is w everywhere."""
    keras.utils.set_random_seed(seed)
    noise = keras.Input((4,))
    image = keras.layers.Reshape((SIZE, SIZE, 1))(keras.layers.Dense(SIZE * SIZE, activation="tanh")(noise))
    generator = keras.Model(noise, image)
    pixels = keras.Input((SIZE, SIZE, 1))
    discriminator = keras.Model(pixels, keras.layers.Dense(1)(keras.layers.Flatten()(pixels)))
    return GAN(generator, discriminator, seed=seed)


def _squared_weight_norm(gan):
    kernel = gan.discriminator.layers[-1].kernel
    return float(np.sum(np.square(kernel.numpy())))


def _images(count=8, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, size=(count, SIZE, SIZE, 1)).astype("float32")


def test_r1_penalty_is_the_squared_weight_norm_of_a_linear_d():
    gan = _linear_gan()
    penalty = r1_penalty(gan.discriminator, _images()).numpy()
    np.testing.assert_allclose(penalty, np.full(8, _squared_weight_norm(gan)), rtol=1e-5)


@pytest.mark.parametrize("r1_every", [1, 3])
def test_d_loss_adds_half_gamma_times_the_penalty_lazily(r1_every):
    gamma = 2.5
    plain, regularised = _linear_gan(), _linear_gan()
    plain.compile()
    regularised.compile(r1_weight=gamma, r1_every=r1_every)
    real, fake = _images(seed=1), _images(seed=2)
    base = float(plain.discriminator_loss(real, fake)[0])
    norm = _squared_weight_norm(regularised)
    extra = []
    for iteration in range(3):
        regularised.d_optimizer.iterations.assign(iteration)
        extra.append(float(regularised.discriminator_loss(real, fake)[0]) - base)
    # Lazy regularisation: r1_every times the penalty on every r1_every-th D step, nothing in between.
    expected = [gamma / 2 * norm * r1_every if iteration % r1_every == 0 else 0.0 for iteration in range(3)]
    np.testing.assert_allclose(extra, expected, rtol=1e-4, atol=1e-6)


def test_r1_pushes_a_linear_ds_weights_towards_zero():
    # On the penalty alone, each D step shrinks w: the gradient of gamma/2 ||w||^2 is gamma w.
    gan = _linear_gan()
    gan.compile(d_optimizer=keras.optimizers.SGD(0.1), r1_weight=1.0)
    real = _images()
    before = _squared_weight_norm(gan)
    with tf.GradientTape() as tape:
        penalty = tf.reduce_mean(r1_penalty(gan.discriminator, real)) / 2
    gradient = tape.gradient(penalty, gan.discriminator.layers[-1].kernel)
    np.testing.assert_allclose(gradient.numpy(), gan.discriminator.layers[-1].kernel.numpy(), rtol=1e-5)
    gan.d_optimizer.apply([gradient], [gan.discriminator.layers[-1].kernel])
    assert _squared_weight_norm(gan) == pytest.approx(before * 0.81, rel=1e-4)


def test_translation_moves_each_image_whole_pixels_within_the_limit():
    images = -np.ones((64, SIZE, SIZE, 1), "float32")
    images[:, 12, 14, 0] = 1.0
    shifted = translate(images, 0.125, seed=0).numpy()
    offsets = set()
    for image in shifted:
        (row, column), = np.argwhere(image[..., 0] > 0)  # the bright pixel, moved and intact
        assert image[row, column, 0] == pytest.approx(1.0)
        offsets.add((row - 12, column - 14))
    # Up to round(0.125 * 28) = 4 pixels each way, and the shifts vary from image to image.
    assert max(max(abs(dy), abs(dx)) for dy, dx in offsets) <= 4
    assert len(offsets) > 10
    assert set(np.unique(shifted)) == {-1.0, 1.0}


def test_translation_fills_the_uncovered_border_with_background():
    shifted = translate(np.ones((32, SIZE, SIZE, 1), "float32"), 0.125, fill=-1.0, seed=1).numpy()
    for image in shifted[..., 0]:
        rows = np.flatnonzero((image < 0).all(axis=1))
        columns = np.flatnonzero((image < 0).all(axis=0))
        # What is left of the white square is an axis-aligned rectangle, at least 24 x 24.
        assert (image > 0).sum() == (SIZE - len(rows)) * (SIZE - len(columns)) >= 24 * 24


def test_cutout_blanks_one_square_of_half_the_size():
    blanked = cutout(np.ones((64, SIZE, SIZE, 1), "float32"), 0.5, seed=2).numpy()[..., 0] < 0
    sizes = blanked.sum(axis=(1, 2))
    assert sizes.max() == 14 * 14 and sizes.min() >= 7 * 7  # clipped at the border, as in Zhao et al.
    for square in blanked:
        rows, columns = np.flatnonzero(square.any(axis=1)), np.flatnonzero(square.any(axis=0))
        assert square.sum() == len(rows) * len(columns)  # one rectangle
        assert np.all(np.diff(rows) == 1) and np.all(np.diff(columns) == 1)


def test_augmentation_is_differentiable_and_its_gradient_is_the_transform():
    images = tf.constant(_images(16))
    with tf.GradientTape() as tape:
        tape.watch(images)
        augmented = diff_augment(images, Augmentation(translation=0.125, cutout=0.0), seed=3)
        total = tf.reduce_sum(augmented)
    gradient = tape.gradient(total, images).numpy()
    # Each source pixel still in view counts once, the others not at all.
    assert set(np.unique(gradient)) <= {0.0, 1.0}
    # Uniform random pixels are never exactly -1: those are the uncovered border.
    assert gradient.sum() == (augmented.numpy() != -1.0).sum() < gradient.size


def test_d_sees_real_and_fake_through_the_augmentation_and_g_learns_through_it(monkeypatch):
    import gan_keras.gan as gan_module

    seen = []

    def recording_augment(images, augmentation, seed=None):
        seen.append(np.array(images))
        return diff_augment(images, augmentation, seed=seed)

    monkeypatch.setattr(gan_module, "diff_augment", recording_augment)
    gan = _linear_gan()
    gan.compile(augment="translation_cutout")
    real, fake = _images(seed=4), _images(seed=5)
    gan.discriminator_loss(real, fake)
    assert len(seen) == 2
    np.testing.assert_array_equal(seen[0], real)
    np.testing.assert_array_equal(seen[1], fake)
    seen.clear()

    noise = tf.random.normal((8, 4), seed=0)
    with tf.GradientTape() as tape:
        g_loss = gan.generator_loss(gan.generator(noise, training=True))
    gradients = tape.gradient(g_loss, gan.generator.trainable_variables)
    assert len(seen) == 1  # G's images pass through the same augmentation
    assert all(gradient is not None and np.abs(gradient.numpy()).sum() > 0 for gradient in gradients)


def _fit_regularised(mnist_sample, run_eagerly):
    keras.utils.set_random_seed(3)
    generator = build_generator(8, (SIZE, SIZE, 1), kind="dcgan", base_filters=8)
    discriminator = build_discriminator((SIZE, SIZE, 1), kind="dcgan", base_filters=8, dropout=0.0)
    gan = GAN(generator, discriminator, seed=3)
    gan.compile(run_eagerly=run_eagerly, augment="translation_cutout", r1_weight=1.0, r1_every=2)
    dataset = make_dataset(mnist_sample[0][:96], batch_size=32, seed=0, shuffle=False)
    return gan, gan.fit(dataset, epochs=1, verbose=0).history


def test_regularised_step_is_the_same_eagerly_and_compiled(mnist_sample):
    eager, eager_history = _fit_regularised(mnist_sample, run_eagerly=True)
    compiled, compiled_history = _fit_regularised(mnist_sample, run_eagerly=False)
    for key in eager_history:
        np.testing.assert_allclose(eager_history[key], compiled_history[key], rtol=1e-4, atol=1e-5)
    for a, b in zip(eager.weights, compiled.weights):
        np.testing.assert_allclose(np.array(a), np.array(b), rtol=1e-4, atol=1e-5)


def test_compile_settings_round_trip_and_bad_ones_are_named(tmp_path):
    gan = _linear_gan()
    gan.compile(augment=Augmentation(translation=0.25, cutout=0.0), r1_weight=0.5, r1_every=4)
    path = tmp_path / "gan.keras"
    gan.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.augmentation == Augmentation(translation=0.25, cutout=0.0)
    assert (loaded.r1_weight, loaded.r1_every) == (0.5, 4)
    assert get_augmentation("translation_cutout") is AUGMENTATIONS["translation_cutout"]
    with pytest.raises(ValueError, match="`augment` must be one of"):
        gan.compile(augment="flip")
    with pytest.raises(ValueError, match="r1_weight"):
        gan.compile(r1_weight=-1.0)
    with pytest.raises(ValueError, match="r1_every"):
        gan.compile(r1_every=0)
    with pytest.raises(ValueError, match="translation"):
        Augmentation(translation=0.75)


def test_train_config_reaches_the_model():
    from gan_keras.training import CLASSIC_DCGAN, TrainConfig, build_gan

    config = TrainConfig(model="dcgan", base_filters=4, augment="cutout", r1_weight=0.5, r1_every=2,
                         minibatch_stddev=True, simultaneous=True).validate()
    gan = build_gan(config)
    assert gan.augmentation == AUGMENTATIONS["cutout"]
    assert (gan.r1_weight, gan.r1_every, gan.simultaneous) == (0.5, 2, True)
    assert "minibatch_stddev" in [layer.name for layer in gan.discriminator.layers]
    plain = build_gan(TrainConfig(model="cgan", base_filters=4).validate())
    assert not plain.augmentation.active and plain.r1_weight == 0 and not plain.simultaneous
    # `--model dcgan`'s measured recipe: lazy R1 (gamma 1, every 4th D step), no augmentation;
    # the classic recipe keeps D unregularised, as its figures were measured.
    dcgan = build_gan(TrainConfig(model="dcgan", base_filters=4).validate())
    assert (dcgan.r1_weight, dcgan.r1_every, dcgan.augmentation.active) == (1.0, 4, False)
    assert build_gan(TrainConfig(**CLASSIC_DCGAN, base_filters=4).validate()).r1_weight == 0
