"""Issue 30, part 3: `GAN` and `VAE` accept networks as users write them:
subclassed (a `keras.Model` with `call`, as keras.io's guides write them),
Sequential (with `input_shape=` or a `keras.Input`) and functional; and a
discriminator ending in a sigmoid under a loss on logits is reported once."""

import warnings

import keras
import numpy as np
import pytest

from gan_keras import GAN, VAE
from gan_keras.callbacks import fixed_inputs

LATENT_DIM = 8
SHAPE = (28, 28, 1)


@keras.saving.register_keras_serializable(package="test_user_models")
class SubclassedGenerator(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = keras.layers.Dense(16, activation="relu")
        self.pixels = keras.layers.Dense(28 * 28, activation="tanh")
        self.to_image = keras.layers.Reshape(SHAPE)

    def call(self, noise, training=False):
        return self.to_image(self.pixels(self.hidden(noise)))


@keras.saving.register_keras_serializable(package="test_user_models")
class SubclassedDiscriminator(keras.Model):
    def __init__(self, final_activation=None, **kwargs):
        super().__init__(**kwargs)
        self.final_activation = final_activation
        self.flatten = keras.layers.Flatten()
        self.hidden = keras.layers.Dense(16, activation="relu")
        self.logit = keras.layers.Dense(1, activation=final_activation)

    def call(self, images, training=False):
        return self.logit(self.hidden(self.flatten(images)))

    def get_config(self):
        return {**super().get_config(), "final_activation": self.final_activation}


def sequential_pair(with_input_layer):
    if with_input_layer:
        first_g, first_d = [keras.Input((LATENT_DIM,))], [keras.Input(SHAPE)]
        g_layers, d_layers = [keras.layers.Dense(16, activation="relu")], [keras.layers.Flatten()]
    else:
        first_g, first_d = [], []
        g_layers = [keras.layers.Dense(16, activation="relu", input_shape=(LATENT_DIM,))]
        d_layers = [keras.layers.Flatten(input_shape=SHAPE)]
    generator = keras.Sequential(first_g + g_layers + [keras.layers.Dense(28 * 28, activation="tanh"),
                                                      keras.layers.Reshape(SHAPE)])
    discriminator = keras.Sequential(first_d + d_layers + [keras.layers.Dense(16, activation="relu"),
                                                          keras.layers.Dense(1)])
    return generator, discriminator


def functional_pair():
    noise = keras.Input((LATENT_DIM,))
    hidden = keras.layers.Dense(16, activation="relu")(noise)
    images = keras.layers.Reshape(SHAPE)(keras.layers.Dense(28 * 28, activation="tanh")(hidden))
    real = keras.Input(SHAPE)
    logit = keras.layers.Dense(1)(keras.layers.Dense(16, activation="relu")(keras.layers.Flatten()(real)))
    return keras.Model(noise, images), keras.Model(real, logit)


PAIRS = {
    "subclassed": lambda: (SubclassedGenerator(), SubclassedDiscriminator()),
    "sequential_input_shape": lambda: sequential_pair(with_input_layer=False),
    "sequential_keras_input": lambda: sequential_pair(with_input_layer=True),
    "functional": functional_pair,
}


@pytest.mark.parametrize("kind", PAIRS)
# Keras' own advice against `input_shape=`, which the test uses on purpose (users still write it).
@pytest.mark.filterwarnings("ignore:Do not pass an `input_shape`:UserWarning")
def test_gan_trains_saves_and_reloads_user_written_networks(tmp_path, mnist_sample, kind):
    keras.utils.set_random_seed(0)
    generator, discriminator = PAIRS[kind]()
    gan = GAN(generator, discriminator, latent_dim=LATENT_DIM, seed=0)
    gan.compile()
    assert gan.latent_dim == LATENT_DIM and gan.image_shape == SHAPE
    before = [weight.copy() for weight in gan.get_weights()]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gan.fit(mnist_sample[0][:32], batch_size=32, epochs=1, verbose=0, shuffle=False)  # one step
    assert not [warning for warning in caught if "sigmoid" in str(warning.message)]  # a logit D
    assert all(not np.array_equal(a, b) for a, b in zip(before, gan.get_weights()))
    inputs, _ = fixed_inputs(gan, 4)  # what the training GIF draws
    assert inputs.shape == (4, LATENT_DIM)

    gan.save(tmp_path / "gan.keras")
    reloaded = keras.models.load_model(tmp_path / "gan.keras")
    assert isinstance(reloaded, GAN) and reloaded.latent_dim == LATENT_DIM
    np.testing.assert_array_equal(reloaded.generate(3, seed=5), gan.generate(3, seed=5))
    assert int(reloaded.g_optimizer.iterations.numpy()) == 1


def test_subclassed_generator_without_latent_dim_names_the_argument():
    with pytest.raises(ValueError, match="`latent_dim` is needed.*pass e.g. latent_dim=100"):
        GAN(SubclassedGenerator(), SubclassedDiscriminator())


def test_latent_dim_is_found_from_a_subclassed_generator_already_called():
    generator = SubclassedGenerator()
    generator(np.zeros((1, LATENT_DIM), "float32"))  # as a user checks a model: call it once
    gan = GAN(generator, SubclassedDiscriminator())
    assert gan.latent_dim == LATENT_DIM and gan.image_shape == SHAPE
    with pytest.raises(ValueError, match="`latent_dim` is 5 but the generator's noise input has size 8"):
        GAN(generator, SubclassedDiscriminator(), latent_dim=5)


def test_sigmoid_discriminator_under_a_logit_loss_is_reported_once(mnist_sample):
    keras.utils.set_random_seed(0)
    gan = GAN(SubclassedGenerator(), SubclassedDiscriminator(final_activation="sigmoid"), latent_dim=LATENT_DIM)
    gan.compile(loss="non_saturating")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(2):
            gan.fit(mnist_sample[0][:32], batch_size=32, epochs=1, verbose=0, shuffle=False)
    messages = [str(warning.message) for warning in caught if "sigmoid" in str(warning.message)]
    assert len(messages) == 1 and "'non_saturating' loss reads them as logits" in messages[0]
    # LSGAN's targets are 0 and 1 on D's raw output: a sigmoid there is no mistake.
    lsgan = GAN(SubclassedGenerator(), SubclassedDiscriminator(final_activation="sigmoid"), latent_dim=LATENT_DIM)
    lsgan.compile(loss="lsgan")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lsgan.fit(mnist_sample[0][:32], batch_size=32, epochs=1, verbose=0, shuffle=False)
    assert not [warning for warning in caught if "sigmoid" in str(warning.message)]


@keras.saving.register_keras_serializable(package="test_user_models")
class SubclassedEncoder(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.flatten = keras.layers.Flatten()
        self.mean = keras.layers.Dense(LATENT_DIM)
        self.log_var = keras.layers.Dense(LATENT_DIM)

    def call(self, images, training=False):
        flat = self.flatten(images)
        return self.mean(flat), self.log_var(flat)


@keras.saving.register_keras_serializable(package="test_user_models")
class SubclassedDecoder(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.pixels = keras.layers.Dense(28 * 28)
        self.to_image = keras.layers.Reshape(SHAPE)

    def call(self, codes, training=False):
        return self.to_image(self.pixels(codes))


def test_vae_trains_saves_and_reloads_subclassed_networks(tmp_path, mnist_sample):
    keras.utils.set_random_seed(0)
    vae = VAE(SubclassedEncoder(), SubclassedDecoder(), latent_dim=LATENT_DIM, seed=0)
    vae.compile()
    vae.fit(mnist_sample[0][:32], batch_size=32, epochs=1, verbose=0, shuffle=False)
    vae.save(tmp_path / "vae.keras")
    reloaded = keras.models.load_model(tmp_path / "vae.keras")
    assert reloaded.latent_dim == LATENT_DIM and reloaded.image_shape == SHAPE
    codes = np.random.default_rng(0).normal(size=(3, LATENT_DIM)).astype("float32")
    np.testing.assert_array_equal(reloaded.decode(codes), vae.decode(codes))
