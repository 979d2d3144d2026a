import keras
import numpy as np
import pytest

from gan_keras.builders import dcgan_plan, build_discriminator, build_generator


@pytest.mark.parametrize("kind", ["dcgan", "mlp"])
@pytest.mark.parametrize("image_shape", [(28, 28, 1), (32, 32, 3), (64, 64, 3)])
def test_generator_and_discriminator_shapes(kind, image_shape):
    generator = build_generator(16, image_shape, kind=kind, hidden_units=(32,))
    discriminator = build_discriminator(image_shape, kind=kind, hidden_units=(32,))
    assert generator.name == "generator" and discriminator.name == "discriminator"
    noise = np.random.default_rng(0).standard_normal((3, 16)).astype("float32")
    images = generator(noise, training=False).numpy()
    assert images.shape == (3, *image_shape)
    assert images.min() >= -1.0 and images.max() <= 1.0  # tanh output
    logits = discriminator(images, training=False).numpy()
    assert logits.shape == (3, 1)


def test_discriminator_outputs_unbounded_logits():
    discriminator = build_discriminator()
    assert discriminator.layers[-1].get_config()["activation"] == "linear"
    # Scale the output layer up: a sigmoid output could never leave [0, 1].
    kernel, bias = discriminator.layers[-1].get_weights()
    discriminator.layers[-1].set_weights([kernel * 1000, bias + 50])
    images = np.random.default_rng(0).uniform(-1, 1, (4, 28, 28, 1)).astype("float32")
    logits = discriminator(images, training=False).numpy()
    assert np.abs(logits).max() > 1.0


@pytest.mark.parametrize("kind", ["dcgan", "mlp"])
def test_conditional_models_take_labels(kind):
    generator = build_generator(8, (28, 28, 1), kind=kind, num_classes=10, hidden_units=(16,))
    discriminator = build_discriminator((28, 28, 1), kind=kind, num_classes=10, hidden_units=(16,))
    assert len(generator.inputs) == 2 and len(discriminator.inputs) == 2
    noise = np.zeros((4, 8), "float32")
    labels = np.array([0, 1, 2, 3], "int32")
    images = generator([noise, labels], training=False).numpy()
    # With identical noise, only the label can make the images differ.
    assert not np.allclose(images[0], images[1])
    assert discriminator([images, labels], training=False).shape == (4, 1)


def test_mlp_handles_toy_vectors_without_tanh():
    generator = build_generator(2, (2,), kind="mlp", hidden_units=(8,), output_activation=None)
    assert generator.output_shape == (None, 2)
    assert generator.layers[-2].get_config()["activation"] == "linear"


@pytest.mark.parametrize("side, plan", [(28, (7, 2)), (32, (4, 3)), (64, (4, 4)), (16, (4, 2)), (24, (6, 2))])
def test_dcgan_plan_doubles_up_to_the_side(side, plan):
    start, steps = dcgan_plan(side)
    assert (start, steps) == plan
    assert start * 2**steps == side


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"image_shape": (30, 30, 1)}, ValueError, "side divisible by 4"),
        ({"image_shape": (28, 32, 1)}, ValueError, "must be a square"),
        ({"image_shape": (28, 28, 2)}, ValueError, "1 or 3 channels"),
        ({"image_shape": (12, 12, 1)}, ValueError, ">= 16"),
        ({"image_shape": (28, 28)}, ValueError, "got \\(28, 28\\)"),
        ({"image_shape": "big"}, TypeError, "tuple of ints"),
        ({"latent_dim": 0}, ValueError, "`latent_dim` must be an integer >= 1, got 0"),
        ({"latent_dim": 2.5}, TypeError, "`latent_dim` must be an integer"),
        ({"kind": "resnet"}, ValueError, "`kind` must be one of \\['dcgan', 'mlp'\\]"),
        ({"num_classes": 1}, ValueError, "`num_classes` must be an integer >= 2"),
    ],
)
def test_generator_rejects_impossible_settings(kwargs, error, message):
    with pytest.raises(error, match=message):
        build_generator(**kwargs)


def test_discriminator_rejects_bad_dropout_and_shapes():
    with pytest.raises(ValueError, match="`dropout`"):
        build_discriminator(dropout=1.5)
    with pytest.raises(ValueError, match="`image_shape`"):
        build_discriminator((28, 28, 4))
    with pytest.raises(ValueError, match="`hidden_units`"):
        build_discriminator(kind="mlp", hidden_units=())
    with pytest.raises(ValueError, match="`spatial_dropout`=True .* kind='dcgan', got kind='mlp'"):
        build_discriminator(kind="mlp", spatial_dropout=True)
    with pytest.raises(TypeError, match="`spatial_dropout` must be True or False, got 'yes'"):
        build_discriminator(spatial_dropout="yes")


@pytest.mark.parametrize("spatial", [False, True])
def test_spatial_dropout_drops_whole_feature_maps(spatial):
    discriminator = build_discriminator(base_filters=8, dropout=0.5, spatial_dropout=spatial)
    dropouts = [layer for layer in discriminator.layers if isinstance(layer, keras.layers.Dropout)]
    assert len(dropouts) == 2
    masked = keras.ops.convert_to_numpy(dropouts[0](np.ones((4, 14, 14, 8), "float32"), training=True))
    # Each (image, channel) map is all dropped or all kept (scaled by 1 / (1 - rate)) exactly when spatial.
    per_map = masked.reshape(4, 14 * 14, 8)
    whole_maps = np.all(per_map.min(axis=1) == per_map.max(axis=1))
    assert whole_maps == spatial
    assert set(np.unique(masked)) == {0.0, 2.0}
    # At inference nothing is dropped.
    np.testing.assert_array_equal(dropouts[0](np.ones((4, 14, 14, 8), "float32"), training=False), 1.0)


def test_train_builds_the_measured_recipes():
    from gan_keras.training import CLASSIC_DCGAN, TrainConfig, build_gan

    def recipe(config):
        gan = build_gan(config.validate())
        dropouts = [layer for layer in gan.discriminator.layers if isinstance(layer, keras.layers.Dropout)]
        return (len(gan.generator.inputs), {type(layer).__name__ for layer in dropouts}, {layer.rate for layer in dropouts},
                round(float(keras.ops.convert_to_numpy(gan.g_optimizer.learning_rate)), 8), gan.d_optimizer.beta_1)

    # The default: conditional (noise and label inputs), dropout 0.3 in D, Adam(1e-3, beta_1 = 0).
    assert recipe(TrainConfig(base_filters=4)) == (2, {"Dropout"}, {0.3}, 1e-3, 0.0)
    assert recipe(TrainConfig(base_filters=4, spatial_dropout=True)) == (2, {"SpatialDropout2D"}, {0.3}, 1e-3, 0.0)
    assert recipe(TrainConfig(model="dcgan", base_filters=4)) == (1, {"Dropout"}, {0.0}, 1e-3, 0.0)
    # The previous default stays reachable: unit dropout 0.3, Adam(2e-4, beta_1 = 0.5).
    assert recipe(TrainConfig(**CLASSIC_DCGAN, base_filters=4)) == (1, {"Dropout"}, {0.3}, 2e-4, 0.5)


def test_minibatch_stddev_appends_the_batchs_average_spread():
    from gan_keras.builders import MinibatchStddev

    features = np.random.default_rng(0).normal(size=(16, 7, 7, 8)).astype("float32")
    output = keras.ops.convert_to_numpy(MinibatchStddev()(features))
    assert output.shape == (16, 7, 7, 9)
    np.testing.assert_array_equal(output[..., :8], features)
    np.testing.assert_allclose(output[..., 8], features.std(axis=0).mean(), rtol=1e-4)
    # A batch of one image repeated (a collapsed generator's) shows no spread at all.
    repeated = keras.ops.convert_to_numpy(MinibatchStddev()(np.repeat(features[:1], 16, axis=0)))
    assert np.abs(repeated[..., 8]).max() < 1e-3


def test_discriminator_with_minibatch_stddev_saves_and_reloads(tmp_path):
    discriminator = build_discriminator(minibatch_stddev=True, dropout=0.0, base_filters=4)
    images = np.random.default_rng(1).uniform(-1, 1, size=(8, 28, 28, 1)).astype("float32")
    discriminator.save(tmp_path / "d.keras")
    reloaded = keras.models.load_model(tmp_path / "d.keras")
    np.testing.assert_allclose(reloaded.predict(images, verbose=0), discriminator.predict(images, verbose=0), rtol=1e-5)
    with pytest.raises(ValueError, match="`minibatch_stddev`=True .* kind='dcgan'"):
        build_discriminator(kind="mlp", minibatch_stddev=True)
    with pytest.raises(TypeError, match="`minibatch_stddev` must be True or False"):
        build_discriminator(minibatch_stddev="yes")
