"""Small argument checks shared by the modules: each raises a ValueError or
TypeError that names the argument, what was given and what is allowed."""

from __future__ import annotations

from typing import Any, Iterable


def check_choice(name: str, value: Any, allowed: Iterable[Any]) -> None:
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"`{name}` must be one of {list(allowed)}, got {value!r}")


def check_positive_int(name: str, value: Any, minimum: int = 1) -> int:
    # bool is an int subclass, but `epochs=True` is never what a user meant.
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            import numpy as np

            if isinstance(value, np.integer):
                value = int(value)
            else:
                raise TypeError
        except TypeError:
            raise TypeError(
                f"`{name}` must be an integer >= {minimum}, got {value!r} "
                f"of type {type(value).__name__}"
            ) from None
    if value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}, got {value}")
    return value


def check_non_negative_float(name: str, value: Any, maximum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"`{name}` must be a number, got {value!r} of type {type(value).__name__}")
    value = float(value)
    if value < 0 or (maximum is not None and value > maximum):
        upper = f" and <= {maximum}" if maximum is not None else ""
        raise ValueError(f"`{name}` must be >= 0{upper}, got {value}")
    return value
