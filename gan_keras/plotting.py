"""Figures: image grids and training curves, drawn with matplotlib.

Used by `gan_keras.callbacks` and every notebook. Figures are built with the
object-oriented API on the Agg canvas, so they work without a display (CI,
servers) and never touch pyplot's global state.
"""

from __future__ import annotations

import io
import math
import os
from typing import Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from gan_keras.data import to_uint8


class NotebookFigure(Figure):
    """A matplotlib `Figure` that shows itself as a PNG when it is the last
    value of a Jupyter or Colab cell. The figures here are made without
    pyplot (safe on machines with no display), and without pyplot IPython
    would only print ``<Figure size ...>``."""

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png")
        return buffer.getvalue()


def image_grid(images: np.ndarray, ncols: int | None = None, padding: int = 2) -> np.ndarray:
    """Tile images in [-1, 1] into one uint8 picture.

    Args:
        images: ``[n, height, width, channels]`` with 1 or 3 channels.
        ncols: images per row (default: a near-square grid).
        padding: pixels of background between tiles.

    Returns:
        ``[rows * (h + p) - p, cols * (w + p) - p, channels]`` uint8 array.
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"`images` must be [n, height, width, 1 or 3], got shape {images.shape}")
    count, height, width, channels = images.shape
    ncols = ncols or math.ceil(math.sqrt(count))
    nrows = math.ceil(count / ncols)
    pixels = to_uint8(images)
    grid = np.zeros(
        (nrows * (height + padding) - padding, ncols * (width + padding) - padding, channels), np.uint8
    )
    for index in range(count):
        row, col = divmod(index, ncols)
        top, left = row * (height + padding), col * (width + padding)
        grid[top : top + height, left : left + width] = pixels[index]
    return grid


def grid_figure(images: np.ndarray, title: str | None = None, ncols: int | None = None, size: float = 4.0) -> Figure:
    """A matplotlib `Figure` showing `images` as a grid, with an optional title."""
    grid = image_grid(images, ncols=ncols)
    figure = NotebookFigure(figsize=(size, size * 1.08 if title else size), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_axes((0.0, 0.0, 1.0, 0.93 if title else 1.0))
    if grid.shape[-1] == 1:
        axes.imshow(grid[..., 0], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    else:
        axes.imshow(grid, interpolation="nearest")
    axes.set_axis_off()
    if title:
        figure.suptitle(title, y=0.985, fontsize=12)
    return figure


def save_image_grid(images: np.ndarray, path: str | os.PathLike, title: str | None = None, ncols: int | None = None) -> None:
    """Save `images` in [-1, 1] as a PNG grid (fixed pixel size, so grids of
    one run can become frames of one GIF)."""
    figure = grid_figure(images, title=title, ncols=ncols)
    figure.savefig(path, dpi=100)


def figure_to_array(figure: Figure) -> np.ndarray:
    """Render a figure to an RGB uint8 array."""
    canvas = figure.canvas if isinstance(figure.canvas, FigureCanvasAgg) else FigureCanvasAgg(figure)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def plot_history(history: Mapping[str, Sequence[float]], path: str | os.PathLike | None = None) -> Figure:
    """Plot training curves: losses, D's accuracies and evaluator figures, one panel each.

    Args:
        history: ``keras.callbacks.History.history`` or the ``history`` entry
            of ``history.json`` (a GAN's or a VAE's). Evaluator figures are
            drawn as points at the epochs in ``eval_epoch``.
        path: if given, the figure is saved there.

    Returns:
        The `Figure`.
    """
    panels = [
        ("Losses", "loss", [key for key in history if key.endswith("loss")]),
        ("Discriminator accuracy", "accuracy", [key for key in history if key.endswith("accuracy")]),
        ("Classifier FID (lower is better)", "FID", [key for key in history if key == "eval_fid"]),
    ]
    panels = [panel for panel in panels if panel[2]]
    figure = NotebookFigure(figsize=(5 * max(len(panels), 1), 3.6), dpi=100)
    FigureCanvasAgg(figure)
    axes_list = figure.subplots(1, max(len(panels), 1), squeeze=False)[0]
    for axes, (title, ylabel, keys) in zip(axes_list, panels):
        for key in keys:
            if key.startswith("eval_"):
                # Evaluated epochs only: points where a measurement was made.
                epochs = history.get("eval_epoch", range(1, len(history[key]) + 1))
                axes.plot(epochs, history[key], "o-", markersize=4, label=key)
            else:
                axes.plot(range(1, len(history[key]) + 1), history[key], label=key)
        if ylabel == "accuracy":
            axes.axhline(0.5, color="gray", linestyle=":", linewidth=1)
            axes.set_ylim(0, 1.02)
        axes.set(xlabel="epoch", ylabel=ylabel, title=title)
        axes.legend()
    figure.tight_layout()
    if path is not None:
        figure.savefig(path)
    return figure
