"""The notebooks' own helpers: the one-line stop for a wrong backend, the
live progress display, and TensorFlow's C++ log kept quiet."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from gan_keras import GAN, build_discriminator, build_generator
from gan_keras.teaching.notebook import LiveProgress, NotebookStop, require_backend


def test_require_backend_returns_the_backend_in_use():
    assert require_backend(keras.backend.backend(), why="any reason") == keras.backend.backend()


def test_require_backend_stops_in_one_line_naming_the_backends_and_the_reason():
    with pytest.raises(NotebookStop) as stop:
        require_backend("no_such_backend", why="its step is written with a tape")
    message = str(stop.value)
    assert "KERAS_BACKEND=no_such_backend" in message and "its step is written with a tape" in message
    assert keras.backend.backend() in message
    # IPython prints what _render_traceback_ returns instead of a traceback: one line.
    assert stop.value._render_traceback_() == [f"NotebookStop: {message}"]


class _Handle:
    """Stands in for IPython's DisplayHandle: records every update."""

    def __init__(self):
        self.updates = []

    def update(self, obj):
        self.updates.append(obj)


def _small_gan():
    keras.utils.set_random_seed(0)
    gan = GAN(build_generator(8, kind="mlp", hidden_units=(16,)),
              build_discriminator(kind="mlp", hidden_units=(16,), dropout=0.0), seed=0)
    gan.compile()
    return gan


def test_live_progress_adds_a_row_every_few_epochs_and_redraws_one_grid(monkeypatch):
    import IPython.display

    handles = []

    def display(obj, display_id=None):
        handles.append(_Handle())
        return handles[-1]

    monkeypatch.setattr(IPython.display, "display", display)
    images = np.random.default_rng(0).uniform(-1, 1, (16, 28, 28, 1)).astype("float32")
    progress = LiveProgress(every=2, num_images=4)
    _small_gan().fit(images, batch_size=8, epochs=5, verbose=0, callbacks=[progress])

    table, picture = handles  # two display areas, updated in place: nothing else printed
    # A header and rows for epochs 2 and 4, then epoch 5 at the end of training.
    assert [row.split()[0] for row in progress.rows] == ["epoch", "2", "4", "5"]
    assert "d_loss" in progress.rows[0] and "g_loss" in progress.rows[0]
    assert len(table.updates) == 3 and table.updates[-1].data == "\n".join(progress.rows)
    assert len(picture.updates) == 3 and all(update.data[:4] == b"\x89PNG" for update in picture.updates)


def test_live_progress_checks_its_arguments():
    with pytest.raises(ValueError, match="every"):
        LiveProgress(every=0)


def test_importing_the_notebook_helpers_quiets_tensorflows_cpp_log():
    script = "import os, gan_keras.teaching.notebook; print(os.environ['TF_CPP_MIN_LOG_LEVEL'])"
    environment = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                               env=environment, check=True)
    assert completed.stdout.strip() == "3"
    # TensorFlow said nothing on stderr while loading (no oneDNN or cuInit lines).
    assert "oneDNN" not in completed.stderr and "cuInit" not in completed.stderr
