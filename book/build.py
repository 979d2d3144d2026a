"""Build the course website: `make book` (docs/book.md).

    python book/build.py                       # default settings: build/book/html
    GAN_KERAS_QUICK=1 python book/build.py     # quick-mode notebooks: build/book-quick/html
    python book/build.py --fresh               # forget the cached notebook runs first (rerun them all)

The two modes keep separate folders, each with its own jupyter-cache, so a quick build never shows a
default run's outputs, nor the other way round. The site is OUT/html; OUT/build.log keeps
Sphinx's log, with each notebook's execution time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def quick_mode() -> bool:
    """True when ``GAN_KERAS_QUICK=1``; the notebooks read the same variable themselves."""
    return os.environ.get("GAN_KERAS_QUICK", "").strip() == "1"


def default_out() -> Path:
    """build/book, or build/book-quick for a quick build."""
    return ROOT / "build" / ("book-quick" if quick_mode() else "book")


def sphinx_command(out: Path) -> list[str]:
    """sphinx-build reading the repository with book/conf.py, writing OUT/html.

    -E rereads every page each time (a few seconds, the notebooks' outputs come from jupyter-cache), so a
    change that Sphinx does not track, such as to book/conf.py's hooks, always reaches the site. Any warning
    (a broken link, say) fails the build, after it has reported them all.
    """
    return [sys.executable, "-m", "sphinx", "-b", "html", "-E", "-c", str(ROOT / "book"), "-d", str(out / "doctrees"),
            "--fail-on-warning", "--keep-going", str(ROOT), str(out / "html")]


def build_environment(out: Path) -> dict[str, str]:
    """The environment of sphinx-build, which the notebooks' kernels inherit."""
    env = dict(os.environ, GAN_KERAS_BOOK_CACHE=str(out / "jupyter-cache"))
    # A kernel started with MPLBACKEND=Agg (the tests set it) draws no inline figures: let ipykernel pick.
    env.pop("MPLBACKEND", None)
    return env


def build(out: Path, fresh: bool = False) -> int:
    """Run sphinx-build into `out`, echoing and logging its output; return its exit status."""
    if fresh:
        # jupyter-cache keys a run on the notebook's code only, and Sphinx rereads only changed sources:
        # a test of the library must forget both to rerun every notebook.
        for folder in ("jupyter-cache", "doctrees", "jupyter_execute"):
            shutil.rmtree(out / folder, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    with open(out / "build.log", "w") as log:
        process = subprocess.Popen(sphinx_command(out), cwd=ROOT, env=build_environment(out),
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in process.stdout:
            sys.stdout.write(line)
            log.write(line)
        status = process.wait()
        summary = f"book: exit status {status} after {time.monotonic() - start:.0f} s; site in {out / 'html'}\n"
        sys.stdout.write(summary)
        log.write(summary)
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: build/book or build/book-quick)")
    parser.add_argument("--fresh", action="store_true", help="rerun every notebook (drop the jupyter-cache first)")
    args = parser.parse_args(argv)
    return build(args.out or default_out(), fresh=args.fresh)


if __name__ == "__main__":
    sys.exit(main())
