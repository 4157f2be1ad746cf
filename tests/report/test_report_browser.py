"""The report renders in a real headless Chromium: a non-blank page whose plot images were drawn.

The question plot's bars are the only pixels in matplotlib's blue (the page's own CSS bars are a paler
blue), so finding a large block of that colour, with structure inside it, proves the inline PNG decoded.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline.report import write_report
from pipeline.report._plots import RAW_COLOUR

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--window-size=1280,2400"]

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)"),
]


def screenshot(html: Path, png: Path) -> np.ndarray:
    """Render a file in headless Chromium and return the screenshot as an RGB array."""
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--screenshot={png}", html.as_uri()],
                       check=True, capture_output=True, timeout=120)
    return np.asarray(Image.open(png).convert("RGB")).astype(int)


def test_report_renders_with_its_plots(scored_round, tmp_path):
    pixels = screenshot(write_report(scored_round.out), tmp_path / "report.png")
    assert pixels.shape == (2400, 1280, 3)
    assert pixels.std() > 20, "the screenshot is blank"
    blue = np.array([int(RAW_COLOUR[i:i + 2], 16) for i in (1, 3, 5)])
    mask = (np.abs(pixels - blue) <= 12).all(axis=2)
    assert mask.sum() > 5_000, "no plot bars on the page: the inline PNGs did not render"
    rows, cols = np.nonzero(mask)
    plot = pixels[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    assert plot.shape[0] > 100 and plot.shape[1] > 100
    assert plot.std() > 30, "the plot area is uniform"
    bars = mask[rows.min():rows.max() + 1, cols.min():cols.max() + 1].mean()
    background = (plot >= 250).all(axis=2).mean()
    assert 0.2 < bars < 0.95 and background > 0.05, (bars, background)
