"""``python -m gan_keras``: see `gan_keras.training.cli`."""

import sys

from gan_keras.training.cli import main

if __name__ == "__main__":
    sys.exit(main())
