"""Shared test set-up: offline, quiet, seeded, small."""

import os
import sys
from pathlib import Path

import pytest

# Tests never touch the network: `auto` loaders go straight to the bundled
# sample. Set before gan_keras is imported, and inherited by subprocesses.
os.environ["GAN_KERAS_OFFLINE"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("MPLBACKEND", "Agg")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_MNIST = REPO_ROOT.parent / "shared" / "data" / "mnist"


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None):
    """Run ``python -m gan_keras ARGS`` in a fresh interpreter."""
    import subprocess

    return subprocess.run(
        [sys.executable, "-m", "gan_keras", *args],
        capture_output=True, text=True, cwd=cwd, env={**os.environ, **(env or {})}, timeout=600,
    )


@pytest.fixture(scope="session")
def mnist_sample():
    """The first 512 bundled digits, scaled to [-1, 1]."""
    from gan_keras.data import load_images

    return load_images("mnist", source="bundled", max_images=512)
