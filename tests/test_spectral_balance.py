"""spectral_balance.py: the emotion's learned change of spectral balance, measured on WORLD's
envelope and applied to it, and its place in the conversion settings and the WORLD path."""

from __future__ import annotations

import numpy as np
import pytest

from spectrogan.conversion import inference
from spectrogan.stages import spectral_balance as sb
from spectrogan.audio import vocoder
from spectrogan.stages.conversion_settings import ConversionSettings
from spectrogan.data.corpus import RavdessFile
from spectrogan.core.errors import UserError
from spectrogan.audio.loudness import speech_level_db
from spectrogan.stages.spectral_balance import BAND_COUNT, BAND_HZ, SpectralBalance
from spectrogan.audio.spectro import SAMPLE_RATE

from conftest import vowel

TILT = SpectralBalance(tuple(float(g) for g in np.linspace(-6.0, 6.0, BAND_COUNT)))


def _voice(seconds: float = 1.0, f0: float = 140.0) -> np.ndarray:
    return vowel(seconds, f0)


def test_bands_are_mel_spaced_and_each_filter_is_a_weighted_mean():
    assert len(BAND_HZ) == BAND_COUNT and list(BAND_HZ) == sorted(BAND_HZ)
    widths = np.diff(BAND_HZ)
    assert widths[-1] > 3 * widths[0]  # wider at the top, as the ear hears
    filters = sb.band_filters(513, SAMPLE_RATE)
    assert filters.shape == (BAND_COUNT, 513) and np.all(filters >= 0)
    np.testing.assert_allclose(filters.sum(axis=1), 1.0)
    flat = np.full((7, 513), 1e-3)  # -30 dB everywhere
    np.testing.assert_allclose(sb.band_levels_db(flat, sample_rate=SAMPLE_RATE), -30.0)


def test_gains_follow_the_bands_and_scaling_and_the_inverse_undo_them():
    gains = sb.gains_on_bins(TILT, 513, SAMPLE_RATE)
    hz = np.linspace(0, SAMPLE_RATE / 2, 513)
    for centre, gain in zip(BAND_HZ, TILT.gains_db):
        assert gains[np.argmin(np.abs(hz - centre))] == pytest.approx(gain, abs=0.5)
    assert gains[0] == TILT.gains_db[0] and gains[-1] == TILT.gains_db[-1]  # held at the ends
    assert TILT.scaled(0.0).is_identity and TILT.scaled(1.0) == TILT
    assert TILT.scaled(0.5).gains_db[-1] == pytest.approx(3.0)
    features = vocoder.world_analyse(_voice(0.5))
    back = sb.apply_balance(sb.apply_balance(features, TILT), TILT.inverse())
    np.testing.assert_allclose(back.envelope, features.envelope, rtol=1e-9)
    assert sb.apply_balance(features, SpectralBalance()) is features
    changed = sb.apply_balance(features, TILT)
    unvoiced = features.f0 == 0
    np.testing.assert_array_equal(changed.envelope[unvoiced], features.envelope[unvoiced])
    assert "+12.0 dB" not in TILT.describe() and "above 2 kHz" in TILT.describe()


@pytest.mark.parametrize("gains", [(1.0,) * (BAND_COUNT - 1), (30.0,) * BAND_COUNT,
                                   (True,) * BAND_COUNT])
def test_a_balance_out_of_range_is_refused_with_the_value(gains):
    with pytest.raises(ValueError, match="gains_db"):
        SpectralBalance(gains)


def test_a_balanced_conversion_moves_the_measured_balance_by_the_gains():
    """The whole loop: apply a tilt in the WORLD path, measure the result the way the
    training actors are measured, and find the tilt again (the mean over bands aside)."""
    voice = _voice(1.2, 130.0)
    settings = ConversionSettings.of("world", TILT)
    converted = inference.convert_audio(voice, None, settings=settings)
    alone = inference.vocoder_only(voice, vocoder="world")
    assert len(converted) == len(voice)
    assert speech_level_db(converted) == pytest.approx(speech_level_db(voice), abs=1.0)
    moved = sb.utterance_band_levels(converted) - sb.utterance_band_levels(alone)
    expected = np.asarray(TILT.gains_db)
    # The bands between the harmonics' reach and the envelope's smoothing: within 1.5 dB.
    inner = slice(2, BAND_COUNT - 2)
    np.testing.assert_allclose((moved - moved.mean())[inner], (expected - expected.mean())[inner],
                               atol=1.5)
    # Strength 0 is exactly the vocoder alone; --no-prosody keeps the balance.
    np.testing.assert_array_equal(
        inference.convert_audio(voice, None, settings=settings, strength=0.0), alone)
    np.testing.assert_array_equal(
        inference.convert_audio(voice, None, settings=settings, prosody=False), converted)


def test_learn_spectral_balance_finds_the_shared_change_not_the_voices(tmp_path):
    """Two actors with different voices and loudness; in the target emotion both lift the
    same tilt: the learned balance is that tilt, without the voices or the level."""
    rng = np.random.default_rng(3)
    voices = {1: rng.normal(0, 5, BAND_COUNT), 2: rng.normal(0, 5, BAND_COUNT)}
    tilt = np.asarray(TILT.gains_db)
    levels: dict[str, np.ndarray] = {}
    files = []
    for actor in (1, 2):
        for emotion, change, offset in (("calm", 0.0, -40.0), ("happy", tilt, -30.0 + actor)):
            for take in range(2):
                path = tmp_path / f"{emotion}{actor}{take}.wav"
                levels[str(path)] = voices[actor] + change + offset + rng.normal(0, 0.1,
                                                                                  BAND_COUNT)
                files.append(RavdessFile(path=path, emotion=emotion, intensity="normal",
                                         statement=1, repetition=take + 1, actor=actor,
                                         sex="male"))
    learned, per_actor = sb.learn_spectral_balance(
        files, source="calm", target="happy", actors=[1, 2],
        measure=lambda path: levels[str(path)])
    assert set(per_actor) == {1, 2}
    np.testing.assert_allclose(learned.gains_db, tilt - tilt.mean(), atol=0.2)
    with pytest.raises(UserError, match="no measurable clips"):
        sb.learn_spectral_balance(files, source="calm", target="happy", actors=[9],
                                  measure=lambda path: levels[str(path)])


def test_the_config_carries_the_balance_and_refuses_a_bad_one():
    record = TILT.to_config()
    config = {"inference": {"vocoder": "world", "spectral_balance": record}}
    settings = ConversionSettings.from_config(config, where="m/config.json")
    assert settings.stage(SpectralBalance) == SpectralBalance(tuple(round(g, 3) for g in
                                                              TILT.gains_db))
    assert "spectral balance" in settings.describe()
    other_bands = {"band_hz": [100.0] * BAND_COUNT, "gains_db": record["gains_db"]}
    for bad, message in ((other_bands, "other bands"), ({"gains_db": [0.0]}, "band_hz"),
                         ({"band_hz": record["band_hz"], "gains_db": [99.0] * BAND_COUNT},
                          "gains_db")):
        with pytest.raises(UserError, match=message):
            ConversionSettings.from_config({"inference": {"vocoder": "world",
                                                          "spectral_balance": bad}},
                                           where="m/config.json")
    with pytest.raises(UserError, match="world vocoder"):
        ConversionSettings.from_config({"inference": {"spectral_balance": record}},
                                       where="m/config.json")
