"""Grading checks of what a student's run writes: the training GIF."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from gan_keras._validation import check_positive_int
from gan_keras.grading.common import first_line, quiet


# The top of a `TrainingGIF` frame that holds its title ("epoch 3"), which changes even when G does not.
TITLE_SHARE = 0.15


@quiet
def check_training_gif(path: str | os.PathLike, min_frames: int = 2) -> dict:
    """Check the GIF a `gan_keras.TrainingGIF` callback wrote: it exists and shows G changing.

    Args:
        path: where the GIF should be.
        min_frames: frames it must have (one per saved epoch).

    Returns:
        ``{"frames", "height", "width", "change"}``: the change is the mean
        absolute difference between the first and the last frame below
        their titles, in pixel values 0-255.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"`path` must be a str or a path, got {type(path).__name__}")
    min_frames = check_positive_int("min_frames", min_frames)
    if not os.path.isfile(path):
        # TrainingGIF saves a grid after every epoch and writes the GIF when fit ends.
        grids = sorted(Path(path).parent.glob("*/epoch_*.png"))
        if grids:
            raise AssertionError(
                f"There is no GIF at {os.fspath(path)}, but {len(grids)} epoch grid(s) were saved in "
                f"{grids[0].parent}: training started and was stopped before fit finished (the GIF is written "
                "at the end). A grader's cell time-out does this: nbgrader stops a cell after 30 s unless "
                "c.Execute.timeout is raised. Let the training cell run to the end.")
        raise AssertionError(f"There is no GIF at {os.fspath(path)}: train with a gan_keras.TrainingGIF callback "
                             "(callbacks=[TrainingGIF(..., gif_path=GIF_PATH)]) so that fit writes it.")
    import imageio.v3 as iio

    try:
        frames = iio.imread(path, index=None)
    except Exception as error:
        raise AssertionError(f"{os.fspath(path)} could not be read as a GIF ({type(error).__name__}: "
                             f"{first_line(error)}). Let TrainingGIF write it.") from None
    frames = np.asarray(frames, dtype=np.float32)
    if frames.ndim < 3 or (frames.ndim == 3 and frames.shape[-1] in (3, 4)):
        frames = frames[np.newaxis]  # a single frame
    if len(frames) < min_frames:
        raise AssertionError(f"The GIF has {len(frames)} frame(s), fewer than {min_frames}: train for more "
                             f"epochs, or save a grid more often (TrainingGIF(every=1)). If fit was asked for "
                             f"{min_frames} epochs, training ended early (a TimeBudget or EarlyStopping callback).")
    # TrainingGIF titles each frame with its epoch: compare the images below the title only.
    # (A generator frozen for two epochs measured 0 there; two epochs of 4 steps changed it by 0.78.)
    below_title = int(TITLE_SHARE * frames.shape[1])
    change = float(np.mean(np.abs(frames[-1, below_title:] - frames[0, below_title:])))
    if change < 0.01:
        raise AssertionError("The first and last frames of the GIF show the same images: the generator did not "
                             "change during training. Check that fit trains the GAN whose generator the "
                             "callback draws.")
    return {"frames": int(len(frames)), "height": int(frames.shape[1]), "width": int(frames.shape[2]),
            "change": change}
