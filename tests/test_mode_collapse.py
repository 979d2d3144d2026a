"""The classic mode-collapse picture: eight Gaussians on a ring, over several seeds.

One seed proves little: a GAN's outcome depends on it, and on the library and
TensorFlow version (minimax covered 1 to 8 modes over seeds 0-9, and on
some seeds it beat WGAN-GP). So both losses are trained with
`gan_keras.teaching.toy.train_ring_gan`, the recipe of notebooks 02 and 05, on eight
seeds, and the test asserts on the means.

Measured on the 2-core CPU test machine over seeds 0-7 (15 epochs each),
with two states of the library while it was being reworked:
- modes covered: minimax 4, 5, 1, 5, 6, 7, 7, 5 (mean 5.0) and WGAN-GP
  7, 8, 8, 7, 8, 7, 6, 6 (mean 7.1); later minimax 5, 7, 6, 7, 4, 6, 2, 5
  (mean 5.25) and WGAN-GP 6, 6, 8, 8, 7, 5, 8, 8 (mean 7.0);
- share of samples within 0.25 of a mode: minimax 0.19 and 0.21 on
  average, WGAN-GP 0.38 and 0.37.
The whole test took 3.5 minutes there, sharing the two cores with other work.
"""

import numpy as np
import pytest

from gan_keras.teaching.toy import train_ring_gan

SEEDS = tuple(range(8))
EPOCHS = 15


def _runs(loss: str) -> tuple[list[int], list[float]]:
    runs = [train_ring_gan(loss, epochs=EPOCHS, seed=seed) for seed in SEEDS]
    return [run.modes_covered for run in runs], [run.modes["high_quality_share"] for run in runs]


@pytest.mark.slow
def test_wgan_gp_covers_more_modes_than_the_minimax_gan_on_average():
    minimax_modes, minimax_on_modes = _runs("minimax")
    wgan_modes, wgan_on_modes = _runs("wgan_gp")
    summary = (f"seeds {SEEDS}: modes minimax {minimax_modes}, WGAN-GP {wgan_modes}; share on a mode "
               f"minimax {np.round(minimax_on_modes, 2).tolist()}, WGAN-GP {np.round(wgan_on_modes, 2).tolist()}")
    print(summary)
    # The measured gaps of the means were 1.75 to 2.1 modes and 0.16 to 0.18 of
    # the samples: these margins leave room for another machine's rounding
    # (a single seed can flip), yet fail if WGAN-GP stops helping.
    assert np.mean(wgan_modes) >= np.mean(minimax_modes) + 1.0, summary
    assert np.mean(wgan_modes) >= 6.5, summary
    assert np.mean(wgan_on_modes) >= np.mean(minimax_on_modes) + 0.08, summary
