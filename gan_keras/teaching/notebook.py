"""Helpers for the notebooks' Setup cells and inline display.

Used by every notebook in `notebooks/`. Importing this module (the Setup
cell does, before TensorFlow loads) quiets TensorFlow's C++ log: a student
would otherwise see red lines such as ``failed call to cuInit`` (no GPU) or
``remapper failed`` that say nothing about their code. Set
``TF_CPP_MIN_LOG_LEVEL=0`` before the Setup cell to see them again.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import contextlib  # noqa: E402
import sys  # noqa: E402


@contextlib.contextmanager
def _os_stderr_silenced():
    """Send what C++ code writes to the process's stderr (file descriptor 2)
    to /dev/null for a moment. TensorFlow's loader prints its first lines
    (oneDNN, "Could not find cuda drivers") before its log level is read."""
    try:
        saved = os.dup(2)
    except OSError:  # no real stderr (some embedded interpreters): nothing to silence
        yield
        return
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


# Before TensorFlow is imported, or it is too late: 3 hides its C++ INFO,
# WARNING and ERROR lines (Python errors and warnings still show).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
if os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3" and "tensorflow" not in sys.modules:
    with _os_stderr_silenced():
        import keras
else:
    import keras  # noqa: E402

from gan_keras.averaging import sampling_generator  # noqa: E402
from gan_keras.callbacks import fixed_inputs, non_finite_losses  # noqa: E402
from gan_keras.plotting import grid_figure  # noqa: E402

QUICK_ENV = "GAN_KERAS_QUICK"
# Kept alive until the process exits, when each one's finalizer deletes its folder.
_TEMPORARY_FOLDERS: list[tempfile.TemporaryDirectory] = []


def quick_mode() -> bool:
    """True when ``GAN_KERAS_QUICK=1``: notebooks then shrink their work (the tests set it)."""
    return os.environ.get(QUICK_ENV, "").strip() == "1"


def temporary_folder() -> str:
    """A new, empty folder that is deleted with everything in it when this
    Python process (the notebook's kernel) exits.

    Quick mode writes its runs here, so that test and grading runs leave
    nothing behind.
    """
    folder = tempfile.TemporaryDirectory(prefix="gan_keras-")
    _TEMPORARY_FOLDERS.append(folder)
    return folder.name


def describe_machine() -> dict:
    """Print and return the Keras version, the backend (and its version) and any GPU."""
    import importlib

    import keras

    from gan_keras.training.distribute import available_gpus

    backend = keras.backend.backend()
    gpus = available_gpus()
    info = {
        "keras": keras.__version__,
        "backend": backend,
        "backend_version": importlib.import_module(backend).__version__,
        "gpus": gpus,
        "quick_mode": quick_mode(),
    }
    print(f"Keras {info['keras']} on the {backend} backend ({backend} {info['backend_version']})")
    print(f"GPU: {', '.join(gpus)}" if gpus else "GPU: none (training runs on the CPU; the defaults are sized for that)")
    if info["quick_mode"]:
        print(f"{QUICK_ENV}=1: quick mode, tiny settings (the results will not look like much)")
    return info


def show_gif(path: str | os.PathLike):
    """Display a GIF inline in Jupyter/Colab (returns the IPython object)."""
    from IPython.display import Image

    return Image(data=Path(path).read_bytes(), format="gif")


class NotebookStop(Exception):
    """Stops a notebook with a one-line message: Jupyter shows no traceback
    for it (IPython prints what `_render_traceback_` returns)."""

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


def require_backend(*backends: str, why: str) -> str:
    """Stop the notebook at once, in one line, unless Keras runs on one of `backends`.

    Args:
        backends: the backends the notebook's code runs on, e.g. ``"tensorflow"``.
        why: what in the notebook needs them (said in the message).

    Returns:
        The backend in use.
    """
    backend = keras.backend.backend()
    if backend not in backends:
        wanted = " or ".join(backends)
        raise NotebookStop(
            f"this notebook needs KERAS_BACKEND={wanted} ({why}); this kernel runs {backend}: "
            f"restart it with KERAS_BACKEND={backends[0]} (notebook 09 shows the other backends)"
        )
    return backend


class LiveProgress(keras.callbacks.Callback):
    """Training shown as a student wants to watch it: a compact table that
    gains a row every `every` epochs, and one grid of samples from fixed noise
    redrawn in place (as the TensorFlow DCGAN tutorial redraws its grid),
    instead of a log line per epoch. Use it with ``fit(..., verbose=0)``.

    Works with any model that has a ``generator`` attribute (a `gan_keras.GAN`
    or a notebook's own GAN class).

    Args:
        every: add a row and redraw the grid every this many epochs (the last
            epoch is always shown).
        num_images: samples in the grid (a conditional generator shows one
            column per class).
        seed: seed of the grid's fixed noise.
    """

    def __init__(self, every: int = 5, num_images: int = 36, seed: int = 0):
        super().__init__()
        from gan_keras._validation import check_positive_int

        self.every = check_positive_int("every", every)
        self.num_images = check_positive_int("num_images", num_images)
        self.seed = seed
        self.rows: list[str] = []
        self._shown_epoch = 0
        self._last_epoch = 0

    def on_train_begin(self, logs=None):
        from IPython.display import Pretty, display

        # latent_dim from the model: a subclassed generator declares no input to read it from.
        self._inputs, self._ncols = fixed_inputs(self.model.generator, self.num_images, self.seed,
                                                 latent_dim=getattr(self.model, "latent_dim", None))
        self._start = time.perf_counter()
        self.rows = []
        self._table = display(Pretty("training: the first row comes after epoch %d" % self.every), display_id=True)
        self._picture = display(Pretty(""), display_id=True)

    def on_epoch_end(self, epoch, logs=None):
        if non_finite_losses(logs):
            return
        self._last_epoch, self._last_logs = epoch + 1, dict(logs or {})
        if (epoch + 1) % self.every == 0:
            self._show(epoch + 1, self._last_logs)

    def on_train_end(self, logs=None):
        if self._last_epoch and self._shown_epoch != self._last_epoch:
            self._show(self._last_epoch, self._last_logs)

    def _show(self, epoch: int, logs: dict) -> None:
        from IPython.display import Image, Pretty

        names = [name for name in logs if name.endswith(("loss", "accuracy"))]
        if not self.rows:
            self.rows.append(f"{'epoch':>5} {'time':>6}  " + "  ".join(f"{name:>15}" for name in names))
        seconds = time.perf_counter() - self._start
        self.rows.append(f"{epoch:>5} {seconds:>5.0f}s  " + "  ".join(f"{float(logs[name]):>15.3f}" for name in names))
        self._table.update(Pretty("\n".join(self.rows)))
        images = keras.ops.convert_to_numpy(sampling_generator(self.model)(self._inputs, training=False))
        figure = grid_figure(images, title=f"epoch {epoch}", ncols=self._ncols, size=3.0)
        self._picture.update(Image(data=figure._repr_png_(), format="png"))
        self._shown_epoch = epoch
