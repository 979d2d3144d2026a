"""What the grading checks share: their seed, batch size, and helpers that call a student's code
and put back every variable it changes."""

from __future__ import annotations

import functools
import warnings
from typing import Callable, Iterable

import keras
import numpy as np
from keras import ops


# Every input a check feeds a model or a loss comes from this seed.
SEED = 0


# Images or noise vectors per forward pass: enough to see a batch's spread, small enough to be instant.
BATCH = 16


def quiet(check: Callable) -> Callable:
    """Run a check with Python warnings captured instead of printed.

    nbgrader gives 0 points to a graded cell that writes anything to stderr,
    so a warning raised by the student's code (or by Keras about it) would
    cost points the check did not take. The warnings' first lines go into the
    report, under ``"warnings"``.
    """
    @functools.wraps(check)
    def quiet_check(*args, **kwargs):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            report = check(*args, **kwargs)
        if caught and isinstance(report, dict):
            report["warnings"] = sorted({first_line(warning.message) for warning in caught})
        return report

    return quiet_check


class Restored:
    """Put the variables' values back when the block ends, whatever happened in it."""

    def __init__(self, variables: Iterable):
        unique = {}
        for variable in variables:
            unique.setdefault(id(variable), variable)
        self.variables = list(unique.values())

    def __enter__(self):
        self.values = variable_values(self.variables)
        return self

    def __exit__(self, *exc_info):
        for variable, value in zip(self.variables, self.values):
            variable.assign(value)
        return False


def variable_values(variables) -> list[np.ndarray]:
    return [np.array(ops.convert_to_numpy(variable.value)) for variable in variables]


def changed_variables(variables, before) -> list:
    """The variables whose values differ from `before` (from `variable_values`)."""
    return [variable for variable, old in zip(variables, before)
            if not np.array_equal(ops.convert_to_numpy(variable.value), old)]


def variable_names(variables) -> str:
    names = [getattr(variable, "path", variable.name) for variable in variables]
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    line = text[0] if text else ""
    return line[:300] + ("..." if len(line) > 300 else "")


def student_function(fn, argument: str) -> Callable:
    if fn is None:
        raise AssertionError(f"`{argument}` is None: the function has not been written yet. "
                             "Finish the TODO cell, then run this check again.")
    if not callable(fn):
        raise TypeError(f"`{argument}` must be a function, got {type(fn).__name__}")
    return fn


def student_call(fn: Callable, what: str, hint: str = ""):
    """Run the student's code; any error it raises becomes the student's AssertionError."""
    try:
        return fn()
    except AssertionError:
        raise
    except Exception as error:
        raise AssertionError(f"Running {what} raised {type(error).__name__}: {first_line(error)}"
                             + (f" {hint}" if hint else "")) from error


def model_inputs(model: keras.Model):
    # A Sequential model built without an Input has no `inputs` until it is called.
    try:
        return model.inputs
    except (AttributeError, ValueError):
        return None


def fake_images(image_shape: tuple, count: int = BATCH) -> np.ndarray:
    rng = np.random.default_rng(SEED + 1)
    return rng.uniform(-1.0, 1.0, (count, *image_shape)).astype("float32")


def all_layers(model) -> list:
    """Every layer inside `model`, nested models and a custom layer's own sublayers included."""
    layers = []
    children = model.layers if isinstance(model, keras.Model) else getattr(model, "_layers", [])
    for layer in children:
        layers.append(layer)
        layers.extend(all_layers(layer))
    return layers


def batch_norm_layers(model) -> list:
    """The trainable `BatchNormalization` layers inside `model`, nested ones included."""
    return [layer for layer in all_layers(model)
            if isinstance(layer, keras.layers.BatchNormalization) and layer.trainable]
