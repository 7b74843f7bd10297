"""The pitch shift that keeps the words (pitch.py): synthetic voices, no model."""

from __future__ import annotations

import numpy as np
import pytest

from spectrogan.evaluation import metrics
from spectrogan.audio import pitch
from spectrogan.audio import spectro
from spectrogan.audio.spectro import HOP_LENGTH, SAMPLE_RATE

from conftest import vowel


def mean_envelope_db(audio: np.ndarray) -> np.ndarray:
    """The frames' mean spectral envelope in dB (first ENVELOPE_COEFFICIENTS DCT coefficients),
    steady frames only."""
    magnitude = np.abs(spectro.stft(audio))[:, 4:-4]
    db = 20 * np.log10(np.maximum(magnitude, 1e-6))
    projection = spectro.envelope_projection(spectro.N_BINS,
                                             coefficients=spectro.ENVELOPE_COEFFICIENTS)
    return (projection @ db).mean(axis=1)


def median_f0(audio: np.ndarray) -> float:
    return float(np.nanmedian(metrics.f0_contour(audio)))


@pytest.mark.parametrize("ratio", [1.5, 0.8])
def test_the_shift_moves_f0_by_the_ratio_and_keeps_the_formants(ratio):
    import librosa

    voice = vowel(1.0, 140.0)
    shifted = pitch.shift_pitch(voice, ratio=ratio)
    assert shifted.shape == voice.shape and shifted.dtype == np.float32
    assert median_f0(shifted) == pytest.approx(ratio * 140.0, rel=0.03)
    below_4khz = slice(3, 4000 * spectro.N_FFT // SAMPLE_RATE)

    def shape_change(audio: np.ndarray) -> np.ndarray:
        """How far the envelope's shape (the formants; its overall level aside) moved, dB."""
        change = (mean_envelope_db(audio) - mean_envelope_db(voice))[below_4khz]
        return np.abs(change - change.mean())

    kept = shape_change(shifted)
    # A phase vocoder alone moves the formants with the harmonics (700 Hz -> 1050 or 560 Hz).
    moved_away = shape_change(librosa.effects.pitch_shift(
        voice, sr=SAMPLE_RATE, n_steps=12 * np.log2(ratio)).astype(np.float32))
    assert moved_away.mean() > 5.0 and kept.mean() < 0.4 * moved_away.mean()
    # A higher (or lower) voice is neither louder nor softer.
    assert metrics.speech_level_db(shifted) == pytest.approx(metrics.speech_level_db(voice),
                                                             abs=0.5)


def test_the_shift_leaves_unvoiced_sound_where_it_was():
    noise = np.random.default_rng(0).normal(0, 0.05, SAMPLE_RATE // 2).astype(np.float32)
    gap = np.zeros(SAMPLE_RATE // 10, np.float32)
    speech = np.concatenate([noise, gap, vowel(0.6, 150.0)])
    shifted = pitch.shift_pitch(speech, ratio=1.4)
    inside = slice(2 * HOP_LENGTH, len(noise) - 2 * HOP_LENGTH)  # away from the voiced part
    np.testing.assert_allclose(shifted[inside], speech[inside], atol=1e-5)
    voiced_part = shifted[len(noise) + len(gap):]
    assert median_f0(voiced_part) == pytest.approx(1.4 * 150.0, rel=0.03)


def test_track_pitch_finds_the_voice_and_not_the_noise():
    voice = vowel(0.5, 200.0)
    noise = np.random.default_rng(1).normal(0, 0.1, SAMPLE_RATE // 2).astype(np.float32)
    f0, voiced = pitch.track_pitch(np.concatenate([voice, noise]))
    frames = 1 + (len(voice) + len(noise)) // HOP_LENGTH
    assert f0.shape == voiced.shape == (frames,) and voiced.dtype == bool
    half = len(voice) // HOP_LENGTH
    assert voiced[2:half - 2].all() and not voiced[half + 3:].any()
    assert np.median(f0[2:half - 2]) == pytest.approx(200.0, rel=0.02)
    silent_f0, silent_voiced = pitch.track_pitch(np.zeros(1000, np.float32))
    assert silent_f0.shape == (1 + 1000 // HOP_LENGTH,) and not silent_voiced.any()


def test_the_shift_keeps_length_silence_and_the_identity_and_checks_its_input():
    voice = vowel(0.5, 200.0)
    np.testing.assert_array_equal(pitch.shift_pitch(voice, ratio=1.0), voice)
    for length in (1, 100, 3001):  # shorter than one frame, and not a whole number of hops
        out = pitch.shift_pitch(voice[:length], ratio=1.4)
        assert out.shape == (length,) and np.all(np.isfinite(out))
    silence = np.zeros(2000, np.float32)
    np.testing.assert_array_equal(pitch.shift_pitch(silence, ratio=1.4), silence)
    for ratio in (0.4, 2.5):
        with pytest.raises(ValueError, match="ratio"):
            pitch.shift_pitch(voice, ratio=ratio)
    with pytest.raises(ValueError, match="mono"):
        pitch.shift_pitch(np.stack([voice, voice]), ratio=1.2)


def test_shifting_up_and_back_down_gives_the_voice_back():
    voice = vowel(1.0, 140.0)
    back = pitch.shift_pitch(pitch.shift_pitch(voice, ratio=1.3), ratio=1 / 1.3)
    assert median_f0(back) == pytest.approx(140.0, rel=0.03)
    steady = slice(2000, -2000)
    assert np.corrcoef(np.abs(spectro.stft(back[steady])).ravel(),
                       np.abs(spectro.stft(voice[steady])).ravel())[0, 1] > 0.9
