"""Set up a fresh interpreter for one Keras backend, before Keras is imported
(shared by the scripts that tests run in subprocesses)."""

import os
import sys
import tempfile
from pathlib import Path


def prepare_backend(backend: str, block_tensorflow: bool = False) -> None:
    """Select `backend`, stay offline, and with `block_tensorflow` make
    TensorFlow look uninstalled, as on a machine that has none."""
    if block_tensorflow:
        shadow = Path(tempfile.mkdtemp()) / "tensorflow"
        shadow.mkdir()
        (shadow / "__init__.py").write_text(
            'raise ModuleNotFoundError("No module named \'tensorflow\' (hidden by tests/backend_checks_env.py)", '
            'name="tensorflow")\n')
        sys.path.insert(0, str(shadow.parent))
    os.environ["KERAS_BACKEND"] = backend
    os.environ["GAN_KERAS_OFFLINE"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("MPLBACKEND", "Agg")
