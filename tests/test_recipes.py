"""The training recipes the notebooks share: `gan_keras.teaching.toy.train_ring_gan`
(notebooks 02, 05) and `gan_keras.teaching.recipes.train_dcgan_and_vae` (06, 07), at tiny sizes."""

import numpy as np
import pytest

from gan_keras.teaching.recipes import train_dcgan_and_vae
from gan_keras.teaching.toy import train_ring_gan

TINY_RING = dict(n=512, hidden_units=(16,), batch_size=64, n_samples=100)


def _weights(model):
    return [np.array(weight) for weight in model.get_weights()]


def test_ring_recipe_returns_what_it_trained_on_and_generated():
    run = train_ring_gan("minimax", epochs=1, seed=3, **TINY_RING)
    assert run.data.shape == (512, 2) and run.samples.shape == (100, 2)
    assert 0 <= run.modes_covered <= 8 and len(run.modes["share_per_mode"]) == 8
    assert len(run.history["d_loss"]) == 1 and np.isfinite(run.history["g_loss"][0])


def test_ring_recipe_is_repeatable_and_training_moves_the_generator():
    first = train_ring_gan("minimax", epochs=1, seed=3, **TINY_RING)
    again = train_ring_gan("minimax", epochs=1, seed=3, **TINY_RING)
    longer = train_ring_gan("minimax", epochs=2, seed=3, **TINY_RING)
    np.testing.assert_array_equal(first.samples, again.samples)
    # Same seed, one epoch more: only the extra training can make them differ.
    assert not np.allclose(first.samples, longer.samples)


def test_ring_recipe_gives_wgan_gp_its_papers_toy_settings():
    wgan_gp = train_ring_gan("wgan_gp", epochs=1, seed=0, **TINY_RING)
    minimax = train_ring_gan("minimax", epochs=1, seed=0, **TINY_RING)
    assert (wgan_gp.gan.d_steps, minimax.gan.d_steps) == (5, 1)
    assert wgan_gp.gan.gradient_penalty_weight == pytest.approx(0.1)
    assert float(wgan_gp.gan.d_optimizer.beta_2) == pytest.approx(0.9)
    assert float(minimax.gan.d_optimizer.beta_2) == pytest.approx(0.999)


@pytest.fixture(scope="module")
def digits():
    from gan_keras.data import load_images

    images, _ = load_images("mnist", source="bundled", max_images=128)
    return images


def test_dcgan_and_vae_recipe_trains_both_models(digits):
    models = train_dcgan_and_vae(digits, 1, seed=0, batch_size=32)
    assert models.gan.generate(4, seed=0).shape == (4, 28, 28, 1)
    assert models.vae.generate(4, seed=0).shape == (4, 28, 28, 1)
    assert len(models.gan_history["d_loss"]) == 1
    assert len(models.vae_history["reconstruction_loss"]) == 1 and "kl_loss" in models.vae_history


def test_dcgan_and_vae_recipe_is_repeatable_and_training_moves_the_weights(digits):
    first = train_dcgan_and_vae(digits, 1, seed=0, batch_size=32)
    again = train_dcgan_and_vae(digits, 1, seed=0, batch_size=32)
    longer = train_dcgan_and_vae(digits, 2, seed=0, batch_size=32)
    for name in ("gan", "vae"):
        same = [getattr(models, name).generate(8, seed=5) for models in (first, again)]
        np.testing.assert_allclose(same[0], same[1], atol=1e-6, err_msg=f"{name}: same seed, other samples")
    # One more epoch from the same start must move both generators.
    for name in ("gan", "vae"):
        before, after = _weights(getattr(first, name).generator), _weights(getattr(longer, name).generator)
        assert any(not np.allclose(a, b) for a, b in zip(before, after)), f"{name}: training left the weights alone"


def test_dcgan_and_vae_recipe_checks_epochs(digits):
    with pytest.raises(ValueError, match="epochs"):
        train_dcgan_and_vae(digits, 0)
