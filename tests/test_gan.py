import keras
import numpy as np
import pytest
import tensorflow as tf

from gan_keras import GAN, build_discriminator, build_generator, make_dataset


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


def _fit_once(mnist_sample, run_eagerly, simultaneous=False, num_images=64):
    gan = _tiny_gan(seed=3)
    gan.compile(run_eagerly=run_eagerly, simultaneous=simultaneous)
    dataset = make_dataset(mnist_sample[0][:num_images], batch_size=32, seed=0, shuffle=False)
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
    # One step, same seed, same batch: D's update is identical under both
    # rules; G's is not, because the alternating rule scores G with the
    # already-updated D. (After one step the two G's differ, so later D
    # updates would differ too: hence a single batch of 32.)
    alternating, _ = _fit_once(mnist_sample, run_eagerly=False, simultaneous=False, num_images=32)
    simultaneous, _ = _fit_once(mnist_sample, run_eagerly=False, simultaneous=True, num_images=32)
    untrained = _tiny_gan(seed=3)
    d_alternating, d_simultaneous = _snapshot(alternating.discriminator), _snapshot(simultaneous.discriminator)
    assert any(_changed(_snapshot(untrained.discriminator), d_alternating))  # D did move...
    for a, b in zip(d_alternating, d_simultaneous):  # ...the same way under both rules
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
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


def test_accuracy_follows_the_loss_decision_boundary():
    real_logits, fake_logits = tf.constant([[0.3], [0.7]]), tf.constant([[0.2], [0.6]])
    for loss, real_accuracy, fake_accuracy in (("non_saturating", 1.0, 0.0), ("lsgan", 0.5, 0.5)):
        gan = _tiny_gan()
        gan.compile(loss=loss)
        logs = gan._record(tf.constant(1.0), tf.constant(1.0), real_logits, fake_logits)
        # LSGAN's targets are 0 and 1, so D calls an image real above 0.5, not above 0.
        assert float(logs["d_real_accuracy"]) == real_accuracy, loss
        assert float(logs["d_fake_accuracy"]) == fake_accuracy, loss


def test_a_wasserstein_critic_reports_no_accuracy(mnist_sample):
    gan = _tiny_gan()
    gan.compile(loss="wgan_gp", d_steps=2)
    history = gan.fit(make_dataset(mnist_sample[0][:32], batch_size=32), epochs=1, verbose=0).history
    assert set(history) == {"d_loss", "g_loss"}


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


def test_conditional_wgan_gp_step_trains_both_networks(mnist_sample):
    images, labels = mnist_sample
    gan = _tiny_gan(conditional=True)
    gan.compile(loss="wgan_gp", d_steps=2)
    g_before, d_before = _snapshot(gan.generator, True), _snapshot(gan.discriminator, True)
    history = gan.fit(make_dataset(images[:64], labels[:64], batch_size=32), epochs=1, verbose=0).history
    assert np.isfinite(history["d_loss"][0]) and np.isfinite(history["g_loss"][0])
    # Every critic weight moves, the label embedding included, except the
    # output bias: it adds the same constant to f(real) and f(fake), so it
    # cancels in E f(G(z)) - E f(x) and has no effect on the penalty.
    d_changed = dict(zip([weight.path for weight in gan.discriminator.trainable_weights],
                         _changed(d_before, _snapshot(gan.discriminator, True))))
    assert d_changed.pop("logit/bias") is False
    assert all(d_changed.values()) and "label_embedding/embeddings" in d_changed
    assert all(_changed(g_before, _snapshot(gan.generator, True)))
    assert int(gan.d_optimizer.iterations.numpy()) == 2 * int(gan.g_optimizer.iterations.numpy()) == 4
