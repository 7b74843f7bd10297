"""Spectrogram figures: the normalised dB images of spectro.py drawn with time and frequency
axes and a dB colour bar (matplotlib, imported only when a figure is drawn)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from spectrogan.core.atomic_files import atomic_output
from spectrogan.audio.spectro import (HOP_LENGTH, N_BINS, SAMPLE_RATE, TOP_DB, magnitude_to_image,
                                      stft)

def plot_spectrograms(path: str | os.PathLike, panels: list[tuple[str, np.ndarray]], *,
                      top_db: float = TOP_DB, max_hz: float | None = None,
                      side_by_side: bool = False) -> Path:
    """Draw one or more (N_BINS, T) normalised dB images as stacked panels into a PNG.

    Each panel gets time (s) and frequency (Hz) axes and a dB colour bar (0 dB = reference).
    Written atomically. `panels` is a list of (title, image) pairs. `max_hz` (0 < max_hz <=
    SAMPLE_RATE / 2) shows only the bins up to that frequency, e.g. 1200 to see the harmonics
    of a low voice; default: all. `side_by_side` puts the panels in one row instead of one
    column.
    """
    nyquist = SAMPLE_RATE / 2
    if max_hz is not None and not 0 < max_hz <= nyquist:
        raise ValueError(f"max_hz must be in (0, {nyquist:g}], got {max_hz}")
    rows = N_BINS if max_hz is None else int(np.ceil(max_hz / nyquist * (N_BINS - 1))) + 1
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not panels:
        raise ValueError("plot_spectrograms needs at least one panel")
    shape, size = (((1, len(panels)), (6 * len(panels), 3.2)) if side_by_side
                   else ((len(panels), 1), (8, 3 * len(panels))))
    fig, axes = plt.subplots(*shape, figsize=size, squeeze=False)
    for ax, (title, image) in zip(axes.ravel(), panels):
        image = np.asarray(image, dtype=np.float32)
        if image.ndim != 2 or image.shape[0] != N_BINS:
            plt.close(fig)
            raise ValueError(f"panel {title!r} must have shape ({N_BINS}, T), got {image.shape}")
        db = (image[:rows] - 1.0) / 2.0 * top_db
        extent = (0.0, image.shape[1] * HOP_LENGTH / SAMPLE_RATE, 0.0,
                  (rows - 1) / (N_BINS - 1) * nyquist)
        mesh = ax.imshow(db, origin="lower", aspect="auto", extent=extent, cmap="magma",
                         vmin=-top_db, vmax=0.0, interpolation="nearest")
        ax.set_title(title)
        ax.set_xlabel("time (s)")
        ax.set_ylabel("frequency (Hz)")
        fig.colorbar(mesh, ax=ax, label="dB re reference")
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return Path(path)


def plot_conversion(path: str | os.PathLike, audio: np.ndarray, converted: np.ndarray, *,
                    titles: tuple[str, str], side_by_side: bool = False) -> Path:
    """A clip's spectrogram and its conversion's into one PNG (`plot_spectrograms`), both on
    the input's dB reference, so a louder result looks louder. `audio`, `converted`: mono
    float32 at SAMPLE_RATE, any lengths."""
    before, ref = magnitude_to_image(np.abs(stft(audio)))
    after, _ = magnitude_to_image(np.abs(stft(converted)), ref=ref)
    return plot_spectrograms(path, [(titles[0], before), (titles[1], after)],
                             side_by_side=side_by_side)
