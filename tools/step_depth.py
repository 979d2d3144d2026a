"""How deep is the library's training step? Count what one eager step runs.

Runs one eager `GAN.train_step` of a plain DCGAN (`build_generator`,
`build_discriminator`, the default `compile()`: no EMA, R1 or augmentation)
on the TensorFlow backend, after one warm-up step, under `sys.setprofile`,
and prints:

- every distinct `gan_keras` function it executed (lambdas and
  comprehensions count: each is a function call in Python 3.11), by file;
- how many files they live in;
- how deeply `gan_keras` calls nest: the most `gan_keras` frames on the call
  stack at once (frames of Keras, TensorFlow or Python in between are not
  counted), and the deepest such chain.

    python tools/step_depth.py
"""

from __future__ import annotations

import os
import sys
from collections import defaultdict
from pathlib import Path

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import gan_keras  # noqa: E402
from gan_keras import GAN, build_discriminator, build_generator  # noqa: E402

PACKAGE = str(Path(gan_keras.__file__).resolve().parent) + os.sep


class StepProfile:
    """A `sys.setprofile` hook that records the gan_keras frames of one call."""

    def __init__(self):
        self.functions: set[tuple[str, int, str]] = set()
        self.stack: list[tuple[str, int, str] | None] = []  # one entry per Python frame; None if not gan_keras
        self.depth = 0  # gan_keras frames on the stack now
        self.max_depth = 0
        self.deepest_chain: list[str] = []

    def __call__(self, frame, event, arg):
        if event == "call":
            code = frame.f_code
            ours = code.co_filename.startswith(PACKAGE)
            key = (code.co_filename, code.co_firstlineno, code.co_qualname) if ours else None
            self.stack.append(key)
            if key is not None:
                self.functions.add(key)
                self.depth += 1
                if self.depth > self.max_depth:
                    self.max_depth = self.depth
                    self.deepest_chain = [entry[2] for entry in self.stack if entry is not None]
        elif event == "return" and self.stack:
            if self.stack.pop() is not None:
                self.depth -= 1

    def run(self, function, *args):
        sys.setprofile(self)
        try:
            return function(*args)
        finally:
            sys.setprofile(None)


def plain_dcgan() -> GAN:
    gan = GAN(build_generator(), build_discriminator(), seed=0)
    gan.compile()
    return gan


COMPREHENSIONS = ("<listcomp>", "<dictcomp>", "<setcomp>", "<genexpr>")


def measure() -> StepProfile:
    """Profile one eager step of a plain DCGAN, after a warm-up step."""
    gan = plain_dcgan()
    batch = np.random.default_rng(0).uniform(-1, 1, (32, 28, 28, 1)).astype("float32")
    gan.train_step(batch)  # warm-up: first calls build what later steps only use
    profile = StepProfile()
    profile.run(gan.train_step, batch)
    return profile


def main() -> None:
    profile = measure()

    by_file = defaultdict(list)
    for filename, line, name in sorted(profile.functions):
        by_file[os.path.relpath(filename, os.path.dirname(PACKAGE))].append(f"{name} (line {line})")
    print("One eager GAN.train_step, TensorFlow, plain DCGAN (no EMA, R1 or augmentation)")
    for filename, names in by_file.items():
        print(f"  {filename}: {len(names)}")
        for name in names:
            print(f"      {name}")
    comprehensions = sum(name.endswith(COMPREHENSIONS) for _, _, name in profile.functions)
    print(f"distinct gan_keras functions: {len(profile.functions)} "
          f"({len(profile.functions) - comprehensions} without comprehensions)")
    print(f"files: {len(by_file)}")
    print(f"max nesting depth (gan_keras frames): {profile.max_depth}")
    print("deepest chain: " + " -> ".join(profile.deepest_chain))


if __name__ == "__main__":
    main()
