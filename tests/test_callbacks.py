import imageio.v3 as iio
import keras
import numpy as np
import pytest

from gan_keras import GAN, TimeBudget, TrainingGIF, build_discriminator, build_generator, make_dataset
from gan_keras.plotting import image_grid, plot_history


def _mlp_gan(conditional=False):
    keras.utils.set_random_seed(0)
    num_classes = 10 if conditional else None
    gan = GAN(
        build_generator(8, kind="mlp", hidden_units=(16,), num_classes=num_classes),
        build_discriminator(kind="mlp", hidden_units=(16,), num_classes=num_classes),
        seed=0,
    )
    gan.compile()
    return gan


@pytest.mark.parametrize("epochs, every, expected", [(3, 1, [1, 2, 3]), (5, 2, [2, 4, 5])])
def test_training_gif_has_one_frame_per_saved_grid(tmp_path, mnist_sample, epochs, every, expected):
    gan = _mlp_gan()
    callback = TrainingGIF(tmp_path / "samples", every=every, num_images=16)
    gan.fit(make_dataset(mnist_sample[0][:64], batch_size=32), epochs=epochs, verbose=0, callbacks=[callback])
    names = sorted(path.name for path in (tmp_path / "samples").iterdir())
    assert names == [f"epoch_{epoch:03d}.png" for epoch in expected]
    frames = iio.imread(tmp_path / "training.gif", index=None)
    assert frames.shape[0] == len(expected)
    # Frames differ: the generator changed between the saved epochs.
    assert not np.array_equal(frames[0], frames[-1])


def test_training_gif_uses_the_same_latent_vectors_every_time(tmp_path):
    gan = _mlp_gan()

    def grid_pixels(seed, epoch, folder):
        callback = TrainingGIF(tmp_path / folder, num_images=4, seed=seed)
        callback.set_model(gan)
        callback.on_train_begin()
        picture = iio.imread(callback.save_grid(epoch))
        return picture[picture.shape[0] // 10:]  # below the title ("epoch N")

    # Same weights, same seed, another epoch and another callback: the very same images.
    first = grid_pixels(seed=5, epoch=1, folder="a")
    np.testing.assert_array_equal(first, grid_pixels(seed=5, epoch=2, folder="b"))
    assert not np.array_equal(first, grid_pixels(seed=6, epoch=1, folder="c"))


def test_conditional_grid_has_one_column_per_class(tmp_path):
    gan = _mlp_gan(conditional=True)
    callback = TrainingGIF(tmp_path / "samples", num_images=20)
    callback.set_model(gan)
    callback.on_train_begin()
    assert callback._ncols == 10
    np.testing.assert_array_equal(callback._inputs[1], np.arange(20) % 10)


def test_time_budget_stops_after_the_first_epoch(mnist_sample):
    gan = _mlp_gan()
    budget = TimeBudget(max_seconds=0)
    history = gan.fit(make_dataset(mnist_sample[0][:64], batch_size=32), epochs=20, verbose=0, callbacks=[budget])
    assert len(history.history["d_loss"]) == 1
    assert budget.stopped_epoch == 1


def test_image_grid_tiles_images_in_place():
    images = -np.ones((5, 2, 3, 1), np.float32)
    images[4] = 1.0  # the last image is white
    grid = image_grid(images, ncols=2, padding=1)
    assert grid.shape == (3 * 3 - 1, 2 * 4 - 1, 1)
    assert grid[6:8, 0:3].min() == 255  # row 2, column 0
    assert grid[0:2, 0:3].max() == 0
    with pytest.raises(ValueError, match="`images` must be"):
        image_grid(np.zeros((2, 4, 4, 2)))


def test_plot_history_draws_evaluations_at_their_epochs():
    history = {"d_loss": [1.0, 0.9, 0.8, 0.7], "eval_epoch": [1, 2, 4], "eval_fid": [300.0, 200.0, 100.0]}
    figure = plot_history(history)
    fid_line = figure.axes[-1].lines[0]
    assert list(fid_line.get_xdata()) == [1, 2, 4] and list(fid_line.get_ydata()) == [300.0, 200.0, 100.0]
    assert fid_line.get_marker() == "o"


def test_plot_history_writes_a_png(tmp_path):
    plot_history({"d_loss": [1.0, 0.8], "g_loss": [0.7, 0.9], "d_real_accuracy": [0.6, 0.7]}, tmp_path / "losses.png")
    picture = iio.imread(tmp_path / "losses.png")
    assert picture.shape[0] > 100 and picture.shape[1] > 100


def test_figures_show_as_png_in_a_notebook_without_pyplot():
    formatters = pytest.importorskip("IPython.core.formatters")
    from gan_keras.plotting import grid_figure

    shown, _ = formatters.DisplayFormatter().format(grid_figure(np.zeros((4, 8, 8, 1), np.float32), title="x"))
    assert shown["image/png"][:8] == b"\x89PNG\r\n\x1a\n"
    shown, _ = formatters.DisplayFormatter().format(plot_history({"d_loss": [1.0, 0.5]}))
    assert iio.imread(shown["image/png"]).shape[1] > 100


@pytest.mark.parametrize("model, num_images", [("cgan", 80), ("dcgan", 64)])
def test_train_draws_whole_rows_of_digits_for_a_conditional_model(tmp_path, model, num_images):
    from gan_keras.callbacks import TrainingBackup
    from gan_keras.training import TrainConfig
    from gan_keras.training.run import _callbacks

    callbacks = _callbacks(TrainConfig(model=model), tmp_path, TrainingBackup(tmp_path / "backup", settings={}), None)
    gif = next(callback for callback in callbacks if isinstance(callback, TrainingGIF))
    assert gif.num_images == num_images  # a conditional grid has 10 columns: 8 full rows
