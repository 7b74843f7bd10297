"""The card's spectrogram transform: speech as a 260x260 image in [-1, 1] and back.

16 kHz audio, STFT of 512 samples with a hop of 256, dB magnitude from -80 to 0 mapped onto
[-1, 1], 257 bins x 257 frames padded to 260 x 260; Griffin-Lim rebuilds the audio. The
constants and transforms are defined once, in spectrogan/audio/spectro.py (where their shapes,
ranges and inverses are documented); this module is their name at the top of the checkout:

    from spectro import audio_to_image, image_to_audio, SAMPLE_RATE

The round trip as a command is `python resynthesis.py speech.wav -o resynth.wav`.
"""

from __future__ import annotations

import sys

from spectrogan.audio.spectro import (
    AMIN, CENTER, ENVELOPE_COEFFICIENTS, GL_BLOCK_FRAMES, GL_BLOCK_OVERLAP, GRIFFIN_LIM_ITERS,
    GRIFFIN_LIM_MOMENTUM, HOP_LENGTH, IDENTITY_EPSILON, IMAGE_SIZE, N_BINS, N_FFT, N_FRAMES,
    PAD_VALUE, PHASES, SAMPLE_RATE, TOP_DB, WINDOW, WINDOW_OVERLAP, WindowTransform,
    analysis_window, audio_to_image, crop_image, envelope_projection, frames_of, griffin_lim,
    image_logits, image_to_audio, image_to_magnitude, istft, join_windows, magnitude_to_image,
    n_frames_for, pad_image, round_trip, scale_change, split_windows, stft, utterance_to_windows,
    window_starts, windows_to_utterance)

__all__ = [  # the card's names
    "AMIN", "CENTER", "ENVELOPE_COEFFICIENTS", "GL_BLOCK_FRAMES", "GL_BLOCK_OVERLAP",
    "GRIFFIN_LIM_ITERS", "GRIFFIN_LIM_MOMENTUM", "HOP_LENGTH", "IDENTITY_EPSILON",
    "IMAGE_SIZE", "N_BINS", "N_FFT", "N_FRAMES", "PAD_VALUE", "PHASES", "SAMPLE_RATE",
    "TOP_DB", "WINDOW", "WINDOW_OVERLAP", "WindowTransform", "analysis_window",
    "audio_to_image", "crop_image", "envelope_projection", "frames_of", "griffin_lim",
    "image_logits", "image_to_audio", "image_to_magnitude", "istft", "join_windows",
    "magnitude_to_image", "n_frames_for", "pad_image", "round_trip", "scale_change",
    "split_windows", "stft", "utterance_to_windows", "window_starts", "windows_to_utterance"]

if __name__ == "__main__":
    # The transforms read and write no files; an old habit of running this module gets one
    # line saying where the round-trip command went.
    print("error: spectro.py holds the transforms; the round trip is "
          "`python resynthesis.py speech.wav -o resynth.wav`", file=sys.stderr)
    sys.exit(2)
