"""Data-parallel training with Keras' own engine on JAX (`keras.distribution.DataParallel`),
on two CPU devices in a fresh interpreter (tests/data_parallel_checks.py).

TensorFlow's MirroredStrategy is tested in test_long_runs.py, PyTorch's clear
error in test_backends.py.
"""

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from conftest import REPO_ROOT


@pytest.fixture(scope="module")
def checks(tmp_path_factory):
    if importlib.util.find_spec("jax") is None:
        if os.environ.get("GAN_KERAS_REQUIRE_BACKENDS") == "1":
            pytest.fail("jax is not installed; `make test` installs it with the [backends] extra")
        pytest.skip("jax is not installed (pip install -e '.[backends]')")
    out = tmp_path_factory.mktemp("data_parallel")
    completed = subprocess.run([sys.executable, str(REPO_ROOT / "tests" / "data_parallel_checks.py"), str(out)],
                               capture_output=True, text=True, timeout=600, cwd=REPO_ROOT)
    assert completed.returncode == 0, completed.stderr[-4000:]
    return json.loads(completed.stdout.split("RESULT ", 1)[1])


def test_two_devices_take_the_same_step_as_one(checks):
    step = checks["step"]
    assert step["devices"] == 2 and step["replicas"] == 2
    assert step["engine"] == "keras.distribution.DataParallel"
    assert step["weights_on_devices"] == 2  # the weights live on both devices...
    assert step["batch_axes"][0] == "batch" and step["mesh"] == {"batch": 2}  # ...and each batch is split
    assert step["moved"] > 1e-3  # two steps did change the weights...
    assert step["difference"] < 1e-5  # ...and the same on one device as on two


def test_a_batch_that_does_not_split_is_refused_before_any_output(checks):
    uneven = checks["uneven"]
    assert uneven["message"] == ("`batch_size` 15 does not split evenly across the 2 devices of "
                                 "distribution='data_parallel': use a multiple of 2")
    assert not uneven["left_behind"]


def test_data_parallel_training_resumes_where_it_stopped(checks):
    resume = checks["resume"]
    assert resume["epochs"] == 2 and resume["resumed_after"] == [1]
    assert resume["difference"] < 1e-6  # interrupted + resumed == straight through
    assert resume["saved_difference"] == 0.0 and resume["gif"]
    assert all(0 < loss < 10 for loss in resume["d_losses"])
