import keras
import numpy as np
import pytest

from gan_keras.teaching.latent import interpolate, interpolation_strip
from gan_keras.vae import VAE, build_decoder, build_encoder, kl_divergence, reconstruction_loss
from gan_keras import make_dataset


def _vae(seed=0, latent_dim=4):
    keras.utils.set_random_seed(seed)
    vae = VAE(build_encoder(latent_dim, base_filters=8), build_decoder(latent_dim, base_filters=8), seed=seed)
    vae.compile(keras.optimizers.Adam(2e-3))
    return vae


def test_kl_term_matches_the_closed_form():
    mean = np.array([[0.0, 1.0], [2.0, -1.0]], "float32")
    log_var = np.array([[0.0, 0.0], [np.log(4.0), np.log(0.25)]], "float32")
    variance = np.exp(log_var.astype(np.float64))
    # KL(N(m, s^2) || N(0, 1)) = (s^2 + m^2 - 1 - log s^2) / 2 per dimension.
    expected = 0.5 * np.sum(variance + mean.astype(np.float64) ** 2 - 1.0 - np.log(variance), axis=1)
    np.testing.assert_allclose(np.asarray(kl_divergence(mean, log_var)), expected, rtol=1e-6)
    assert float(kl_divergence(np.zeros((1, 3), "float32"), np.zeros((1, 3), "float32"))[0]) == 0.0


def test_reconstruction_loss_is_pixel_binary_cross_entropy():
    images = np.array([[[[-1.0], [1.0]], [[0.0], [1.0]]]], "float32")  # targets 0, 1, 0.5, 1
    logits = np.array([[[[-2.0], [3.0]], [[0.0], [-1.0]]]], "float32")
    targets = (images + 1) / 2
    probabilities = 1 / (1 + np.exp(-logits.astype(np.float64)))
    expected = -np.sum(targets * np.log(probabilities) + (1 - targets) * np.log(1 - probabilities))
    assert float(reconstruction_loss(images, logits)[0]) == pytest.approx(expected, rel=1e-5)


def test_elbo_improves_on_the_bundled_sample(mnist_sample):
    vae = _vae()
    dataset = make_dataset(mnist_sample[0], batch_size=64, seed=0)
    before = vae.evaluate(dataset, verbose=0, return_dict=True)
    history = vae.fit(dataset, epochs=4, verbose=0).history
    after = vae.evaluate(dataset, verbose=0, return_dict=True)
    assert set(history) == {"loss", "reconstruction_loss", "kl_loss"}
    assert after["loss"] < 0.75 * before["loss"]  # the negative ELBO falls by over a quarter
    assert after["reconstruction_loss"] < before["reconstruction_loss"]


def test_saved_and_reloaded_vae_generates_the_same_images(tmp_path, mnist_sample):
    vae = _vae()
    vae.fit(make_dataset(mnist_sample[0][:128], batch_size=64), epochs=1, verbose=0)
    vae.save(tmp_path / "vae.keras")
    reloaded = keras.models.load_model(tmp_path / "vae.keras", safe_mode=True)
    assert isinstance(reloaded, VAE)
    np.testing.assert_allclose(reloaded.generate(6, seed=3), vae.generate(6, seed=3), atol=1e-6)
    np.testing.assert_allclose(reloaded.encode(mnist_sample[0][:5]), vae.encode(mnist_sample[0][:5]), atol=1e-5)
    assert int(reloaded.optimizer.iterations.numpy()) == int(vae.optimizer.iterations.numpy()) == 2
    for model in (vae, reloaded):
        model.fit(mnist_sample[0][:64], batch_size=64, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(reloaded.get_weights(), vae.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_encode_decode_shapes_and_ranges(mnist_sample):
    vae = _vae(latent_dim=2)
    codes = vae.encode(mnist_sample[0][:7])
    assert codes.shape == (7, 2)
    images = vae.decode(codes)
    assert images.shape == (7, 28, 28, 1) and images.min() >= -1 and images.max() <= 1
    with pytest.raises(ValueError, match="`codes` must have shape \\[n, 2\\]"):
        vae.decode(np.zeros((3, 5)))


def test_mismatched_encoder_and_decoder_are_rejected():
    with pytest.raises(ValueError, match="decoder takes 3"):
        VAE(build_encoder(4), build_decoder(3))


def test_linear_interpolation_is_a_straight_line():
    points = interpolate(np.zeros(3), np.array([2.0, 4.0, 6.0]), steps=3, method="linear")
    np.testing.assert_allclose(points, [[0, 0, 0], [1, 2, 3], [2, 4, 6]])


def test_slerp_keeps_the_norm_between_equal_norm_endpoints():
    start, end = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    points = interpolate(start, end, steps=5, method="slerp")
    np.testing.assert_allclose(points[0], start, atol=1e-7)
    np.testing.assert_allclose(points[-1], end, atol=1e-7)
    np.testing.assert_allclose(np.linalg.norm(points, axis=1), 1.0, rtol=1e-6)
    midpoint = interpolate(start, end, steps=3, method="linear")[1]
    assert np.linalg.norm(midpoint) < 0.75  # the straight line cuts inside the circle


def test_interpolation_checks_its_arguments():
    with pytest.raises(ValueError, match="`method` must be one of"):
        interpolate(np.zeros(2), np.ones(2), method="cubic")
    with pytest.raises(ValueError, match="`steps` must be an integer >= 2"):
        interpolate(np.zeros(2), np.ones(2), steps=1)
    with pytest.raises(ValueError, match="same shape"):
        interpolate(np.zeros(2), np.ones(3))


def test_interpolation_strip_works_with_a_vae_and_a_conditional_generator():
    from gan_keras import build_generator

    vae = _vae(latent_dim=2)
    strip = interpolation_strip(vae.decode, np.zeros(2), np.ones(2), steps=4)
    assert strip.shape == (4, 28, 28, 1)
    generator = build_generator(8, num_classes=10, base_filters=8)
    morph = interpolation_strip(generator, np.zeros(8), np.zeros(8), steps=3, labels=[1, 5, 9])
    assert morph.shape == (3, 28, 28, 1)
    assert not np.allclose(morph[0], morph[2])  # same code, different requested digit


def test_beta_weights_the_kl_term(mnist_sample):
    images = mnist_sample[0][:256]
    results = {}
    for beta in (1.0, 4.0):
        keras.utils.set_random_seed(0)
        vae = VAE(build_encoder(4, base_filters=8), build_decoder(4, base_filters=8), beta=beta, seed=0)
        vae.compile(keras.optimizers.Adam(2e-3))
        vae.fit(images, batch_size=64, epochs=3, verbose=0, shuffle=False)
        results[beta] = vae.evaluate(images, batch_size=64, verbose=0, return_dict=True)
        # The reported loss is the beta-weighted negative ELBO.
        expected = results[beta]["reconstruction_loss"] + beta * results[beta]["kl_loss"]
        assert results[beta]["loss"] == pytest.approx(expected, rel=1e-4)
    # A heavier KL weight pulls q(z|x) towards the prior (measured: KL 0.0074 at
    # beta 1, 0.0018 at beta 4 on this tiny run).
    assert results[4.0]["kl_loss"] < 0.5 * results[1.0]["kl_loss"]
