import keras
import numpy as np
import pytest
import tensorflow as tf

from gan_keras import GAN, build_discriminator, build_generator, make_dataset
from gan_keras.losses import global_batch_mean


def _tiny_gan(seed=0, conditional=False, latent_dim=8):
    keras.utils.set_random_seed(seed)
    num_classes = 10 if conditional else None
    generator = build_generator(latent_dim, (28, 28, 1), kind="dcgan", num_classes=num_classes, base_filters=8)
    discriminator = build_discriminator((28, 28, 1), kind="dcgan", num_classes=num_classes, base_filters=8)
    gan = GAN(generator, discriminator, seed=seed)
    return gan


def _snapshot(model, trainable_only=False):
    weights = model.trainable_weights if trainable_only else model.weights
    return [np.array(w.numpy()) for w in weights]


def _changed(before, after):
    return [not np.array_equal(b, a) for b, a in zip(before, after)]


def test_discriminator_step_changes_only_the_discriminator(mnist_sample):
    gan = _tiny_gan()
    gan.compile()
    images = mnist_sample[0][:16]
    g_before, d_before = _snapshot(gan.generator, trainable_only=True), _snapshot(gan.discriminator)
    result = gan.discriminator_step(images)
    assert np.isfinite(float(result["d_loss"]))
    assert not any(_changed(g_before, _snapshot(gan.generator, trainable_only=True)))
    assert all(_changed(d_before, _snapshot(gan.discriminator)))


def test_generator_step_changes_only_the_generator():
    gan = _tiny_gan()
    gan.compile()
    g_before, d_before = _snapshot(gan.generator, trainable_only=True), _snapshot(gan.discriminator)
    gan.generator_step(16)
    assert all(_changed(g_before, _snapshot(gan.generator, trainable_only=True)))
    assert not any(_changed(d_before, _snapshot(gan.discriminator)))


def _fit_once(mnist_sample, run_eagerly, simultaneous=False):
    gan = _tiny_gan(seed=3)
    gan.compile(run_eagerly=run_eagerly, simultaneous=simultaneous)
    dataset = make_dataset(mnist_sample[0][:64], batch_size=32, seed=0, shuffle=False)
    history = gan.fit(dataset, epochs=1, verbose=0).history
    return gan, history


@pytest.mark.parametrize("simultaneous", [False, True], ids=["alternating", "simultaneous"])
def test_train_step_gives_the_same_update_eagerly_and_compiled(mnist_sample, simultaneous):
    eager, eager_history = _fit_once(mnist_sample, run_eagerly=True, simultaneous=simultaneous)
    compiled, compiled_history = _fit_once(mnist_sample, run_eagerly=False, simultaneous=simultaneous)
    assert set(eager_history) == {"d_loss", "g_loss", "d_real_accuracy", "d_fake_accuracy"}
    for key in eager_history:
        np.testing.assert_allclose(eager_history[key], compiled_history[key], rtol=1e-4, atol=1e-5)
    for a, b in zip(eager.generator.weights + eager.discriminator.weights,
                    compiled.generator.weights + compiled.discriminator.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5)
    # ...and the step really trained both networks.
    untrained = _tiny_gan(seed=3)
    assert any(_changed(_snapshot(untrained.generator, True), _snapshot(compiled.generator, True)))
    assert any(_changed(_snapshot(untrained.discriminator, True), _snapshot(compiled.discriminator, True)))


def test_update_rules_differ_only_in_what_scores_the_generator(mnist_sample):
    # Same seed, same batch: D's update is identical under both rules; G's is
    # not, because the alternating rule scores G with the already-updated D.
    alternating, _ = _fit_once(mnist_sample, run_eagerly=False, simultaneous=False)
    simultaneous, _ = _fit_once(mnist_sample, run_eagerly=False, simultaneous=True)
    first_d = alternating.discriminator.trainable_weights[0].numpy()
    assert not np.allclose(first_d, _tiny_gan(seed=3).discriminator.trainable_weights[0].numpy())
    g_alternating = _snapshot(alternating.generator, True)
    g_simultaneous = _snapshot(simultaneous.generator, True)
    assert any(not np.allclose(a, b) for a, b in zip(g_alternating, g_simultaneous))


def test_metrics_are_reset_every_epoch(mnist_sample):
    gan = _tiny_gan()
    gan.compile()
    dataset = make_dataset(mnist_sample[0][:64], batch_size=32)
    history = gan.fit(dataset, epochs=2, verbose=0).history
    assert len(history["d_loss"]) == 2
    # Each epoch's value is the mean of that epoch's steps only.
    assert gan.d_loss_tracker.count.numpy() == 2


def test_conditional_gan_trains_on_labelled_batches(mnist_sample):
    images, labels = mnist_sample
    gan = _tiny_gan(conditional=True)
    gan.compile()
    history = gan.fit(make_dataset(images[:64], labels[:64], batch_size=32), epochs=1, verbose=0).history
    assert np.isfinite(history["g_loss"][0])
    with pytest.raises(ValueError, match="must yield \\(images, labels\\)"):
        gan.fit(make_dataset(images[:64], batch_size=32), epochs=1, verbose=0)


def test_generate_is_repeatable_with_a_seed_and_in_range():
    gan = _tiny_gan()
    first, again, other = gan.generate(5, seed=11), gan.generate(5, seed=11), gan.generate(5, seed=12)
    assert first.shape == (5, 28, 28, 1) and first.dtype == np.float32
    assert first.min() >= -1 and first.max() <= 1
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_generate_checks_labels():
    conditional = _tiny_gan(conditional=True)
    images = conditional.generate(3, labels=[1, 2, 3], seed=0)
    assert images.shape == (3, 28, 28, 1)
    with pytest.raises(ValueError, match="`labels` must be in \\[0, 9\\]"):
        conditional.generate(2, labels=[0, 10])
    with pytest.raises(ValueError, match="not conditional"):
        _tiny_gan().generate(2, labels=[0, 1])


def test_constructor_and_compile_reject_mismatches():
    generator = build_generator(8, kind="mlp", hidden_units=(8,))
    discriminator = build_discriminator(kind="mlp", hidden_units=(8,))
    with pytest.raises(ValueError, match="`latent_dim` is 9"):
        GAN(generator, discriminator, latent_dim=9)
    with pytest.raises(ValueError, match="both be conditional"):
        GAN(generator, build_discriminator(kind="mlp", num_classes=10, hidden_units=(8,)))
    with pytest.raises(TypeError, match="`discriminator` must be a keras.Model"):
        GAN(generator, "discriminator")
    gan = GAN(generator, discriminator)
    shared = keras.optimizers.Adam()
    with pytest.raises(ValueError, match="two different optimizer"):
        gan.compile(g_optimizer=shared, d_optimizer=shared)
    with pytest.raises(ValueError, match="`loss` must be one of"):
        gan.compile(loss="l1")


def test_loss_is_averaged_over_the_global_batch():
    per_example = tf.constant([1.0, 2.0, 3.0, 6.0])
    assert float(global_batch_mean(per_example)) == pytest.approx(3.0)


def test_mlp_gan_learns_a_one_dimensional_gaussian():
    """The original GAN on toy data: real samples ~ N(2, 0.5^2); after a short
    fixed-seed run the generator's samples have about the same mean and spread."""
    keras.utils.set_random_seed(0)
    real = np.random.default_rng(0).normal(2.0, 0.5, size=(4096, 1)).astype("float32")
    generator = build_generator(4, (1,), kind="mlp", hidden_units=(32, 32), output_activation=None)
    discriminator = build_discriminator((1,), kind="mlp", hidden_units=(32, 32), dropout=0.0)
    gan = GAN(generator, discriminator, seed=0)
    gan.compile(keras.optimizers.Adam(2e-3, beta_1=0.5), keras.optimizers.Adam(2e-3, beta_1=0.5))
    before = gan.generate(2000, seed=1)
    dataset = tf.data.Dataset.from_tensor_slices(real).shuffle(4096, seed=0).batch(128, drop_remainder=True)
    gan.fit(dataset, epochs=15, verbose=0)
    samples = gan.generate(4000, seed=1)
    assert abs(before.mean() - 2.0) > 1.0  # it did not start there
    assert samples.mean() == pytest.approx(2.0, abs=0.15)
    assert samples.std() == pytest.approx(0.5, abs=0.15)
