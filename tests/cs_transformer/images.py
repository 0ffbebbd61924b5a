"""What a test can read from a plot it made: that it is an image with something drawn, and the
area drawn in a given colour (decoded with matplotlib, which the plots are made with)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from matplotlib.image import imread

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path: Path) -> None:
    """A PNG of a readable size with something drawn on it (not a blank page)."""
    assert path.read_bytes()[:8] == PNG_SIGNATURE, path
    image = imread(str(path))
    height, width = image.shape[:2]
    assert height > 200 and width > 200, path
    assert (image[..., :3] < 0.95).any(axis=-1).mean() > 0.02, f"{path} is blank"


def pixels_of(path: Path, colour: Sequence[float]) -> int:
    """How many pixels of the image have `colour` (RGB in 0..1): the area drawn in it."""
    image = imread(str(path))[..., :3]
    return int((np.abs(image - np.asarray(colour)) <= 0.02).all(axis=-1).sum())
