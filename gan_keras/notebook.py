"""Helpers for the notebooks' Setup cells and inline display.

Used by every notebook in `notebooks/`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

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

    from gan_keras.distribute import available_gpus

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
