"""prosody.py (the learned change of pitch level, range and speaking rate), vocoder.py (the
WORLD path) and their use in inference.convert_audio and the model config."""

from __future__ import annotations

import json

import numpy as np
import pytest

from spectrogan.conversion import inference
from spectrogan.stages import prosody
from spectrogan.audio import vocoder
from spectrogan.audio.audio_files import write_audio
from spectrogan.stages.conversion_settings import ConversionSettings
from spectrogan.data.corpus import RavdessFile
from spectrogan.core.errors import UserError
from spectrogan.audio.loudness import speech_level_db
from spectrogan.stages.prosody import ProsodyChange, map_f0
from spectrogan.audio.spectro import N_BINS, SAMPLE_RATE

from conftest import vowel


def _gliding_vowel(seconds: float, f0: float, *, depth: float = 0.1, rate_hz: float = 2.0,
                   amplitude: float = 0.3) -> np.ndarray:
    """A vowel whose pitch moves +-depth around f0, with harmonics on a formant-like tilt."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    phase = 2 * np.pi * np.cumsum(f0 * (1 + depth * np.sin(2 * np.pi * rate_hz * t))) \
        / SAMPLE_RATE
    wave = sum(np.sin(k * phase) / k ** 1.2 for k in range(1, int(7000 / f0)))
    fade = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.05)
    return (amplitude * fade * wave / np.abs(wave).max()).astype(np.float32)


def _voiced_centre_and_spread(f0: np.ndarray) -> tuple[float, float]:
    stats = prosody.log2_f0_centre_and_spread(f0)
    assert stats is not None
    return stats


# --- ProsodyChange and map_f0 ---------------------------------------------------------------
def test_map_f0_moves_level_and_range_and_its_inverse_undoes_it():
    rng = np.random.default_rng(0)
    f0 = 150.0 * 2.0 ** rng.normal(0.0, 0.15, 300)
    f0[::7] = 0.0  # unvoiced frames
    change = ProsodyChange(f0_shift_semitones=5.0, f0_spread_ratio=1.6)
    moved = map_f0(f0, change)
    assert np.array_equal(moved == 0, f0 == 0)
    centre, spread = _voiced_centre_and_spread(f0)
    new_centre, new_spread = _voiced_centre_and_spread(moved)
    assert new_centre == pytest.approx(centre + 5.0 / 12.0, abs=1e-9)
    assert new_spread == pytest.approx(1.6 * spread, rel=1e-6)
    np.testing.assert_allclose(map_f0(moved, change.inverse()), f0, rtol=1e-9)
    np.testing.assert_array_equal(map_f0(f0, ProsodyChange()), f0)
    np.testing.assert_array_equal(map_f0(np.zeros(50), change), np.zeros(50))  # no voicing


def test_scaled_is_the_identity_at_zero_and_itself_at_one():
    change = ProsodyChange(6.0, 2.0, 0.8)
    assert change.scaled(0.0).is_identity and change.scaled(1.0) == change
    half = change.scaled(0.5)
    assert half.f0_shift_semitones == pytest.approx(3.0)
    assert half.f0_spread_ratio == pytest.approx(2.0 ** 0.5)
    assert half.duration_ratio == pytest.approx(0.8 ** 0.5)
    with pytest.raises(ValueError, match="strength"):
        change.scaled(1.5)


@pytest.mark.parametrize("field, value", [("f0_shift_semitones", 13.0),
                                          ("f0_spread_ratio", 0.1), ("duration_ratio", 3.0),
                                          ("duration_ratio", True)])
def test_a_change_out_of_range_is_refused_with_the_value(field, value):
    with pytest.raises(ValueError, match=field):
        ProsodyChange(**{field: value})


def test_config_round_trip_and_clear_errors():
    change = ProsodyChange(5.5, 1.8, 0.8)
    assert ProsodyChange.from_config(change.to_config(), where="x") == change
    config = {"pair": "calm2happy", "inference": {"vocoder": "world",
                                                  "prosody": change.to_config()}}
    settings = ConversionSettings.from_config(config, where="here")
    assert settings.vocoder.name == "world" and settings.stage(ProsodyChange) == change
    assert settings.without_prosody().stage(ProsodyChange) is None
    assert "semitones" in settings.describe()
    for inference_section, message in (({"vocoder": "melgan"}, "inference.vocoder"),
                                       ({"prosody": {"tempo": 2}}, "inference.prosody"),
                                       ({"prosody": {"duration_ratio": 9}},
                                        "inference.prosody.duration_ratio")):
        with pytest.raises(UserError, match=message):
            ConversionSettings.from_config({"inference": inference_section}, where="here")


def test_learn_prosody_change_averages_each_actor_s_own_change(tmp_path):
    """Two actors with different voices, each speaking 'happy' 4 semitones higher, a wider
    range and faster than their own calm: the learned change is theirs, not the gap between
    their voices."""
    files = []
    for actor, base in ((1, 110.0), (2, 210.0)):
        clips = {"calm": _gliding_vowel(1.0, base, depth=0.05),
                 "happy": _gliding_vowel(0.8, base * 2 ** (4 / 12), depth=0.1)}
        for emotion, audio in clips.items():
            path = tmp_path / f"{emotion}{actor}.wav"
            write_audio(path, audio)
            files.append(RavdessFile(path=path, emotion=emotion, intensity="normal",
                                     statement=1, repetition=1, actor=actor, sex="male"))
    change, per_actor = prosody.learn_prosody_change(files, source="calm", target="happy",
                                                     actors=[1, 2])
    assert set(per_actor) == {1, 2}
    assert change.f0_shift_semitones == pytest.approx(4.0, abs=0.5)
    assert change.f0_spread_ratio > 1.4
    assert change.duration_ratio == pytest.approx(0.8, abs=0.06)
    with pytest.raises(UserError, match="no measurable clips"):
        prosody.learn_prosody_change(files, source="calm", target="happy", actors=[7])


def test_change_learner_learns_on_both_corpora_and_measures_each_clip_once(tmp_path):
    """A RAVDESS actor (calm) and a CREMA-D actor (neutral stands in for calm), each speaking
    'happy' 4 semitones higher; CREMA-D's low-intensity take and the held-out actor are not
    learned from; a second learner reads every measurement from the cache."""
    from spectrogan.data.corpora import scan_corpora
    from spectrogan.data.corpus import split_training_actors
    from spectrogan.training.global_changes import PROSODY_CACHE, ChangeLearner

    roots = {"ravdess": tmp_path / "ravdess", "crema": tmp_path / "crema"}
    clips = {roots["ravdess"] / "Actor_01" / f"03-01-{code}-01-01-01-01.wav": f0
             for code, f0 in (("02", 120.0), ("03", 120.0 * 2 ** (4 / 12)))}
    clips.update({roots["ravdess"] / "Actor_17" / "03-01-03-01-01-01-17.wav": 400.0,
                  roots["ravdess"] / "Actor_17" / "03-01-02-01-01-01-17.wav": 100.0})
    clips.update({roots["crema"] / "1001" / f"1001_DFA_{code}_XX.flac": f0
                  for code, f0 in (("NEU", 200.0), ("HAP", 200.0 * 2 ** (4 / 12)))})
    clips[roots["crema"] / "1001" / "1001_IEO_HAP_LO.flac"] = 600.0
    for path, f0 in clips.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_audio(path, _gliding_vowel(0.8, f0, depth=0.05))
    files = scan_corpora(roots)
    train = split_training_actors(files)
    assert train == (1, 1001)  # actor 17 is a test actor of the one split

    change, per_actor = ChangeLearner(tmp_path / "cache", roots).prosody(
        files, source="calm", target="happy", actors=train)
    assert set(per_actor) == {1, 1001}
    assert change.f0_shift_semitones == pytest.approx(4.0, abs=0.5)
    cached = json.loads((tmp_path / "cache" / PROSODY_CACHE).read_text())
    assert sorted(cached) == ["Actor_01/03-01-02-01-01-01-01.wav",
                              "Actor_01/03-01-03-01-01-01-01.wav",
                              "crema/1001/1001_DFA_HAP_XX.flac", "crema/1001/1001_DFA_NEU_XX.flac"]
    for path in clips:
        path.unlink()  # measured once: the cache alone answers now
    again, _ = ChangeLearner(tmp_path / "cache", roots).prosody(
        files, source="calm", target="happy", actors=train)
    assert again == change


# --- The WORLD path ---------------------------------------------------------------------------
def test_stretch_time_changes_the_length_and_keeps_the_pitch():
    features = vocoder.world_analyse(_gliding_vowel(0.8, 140.0, depth=0.0))
    slower = vocoder.stretch_time(features, 1.5)
    assert slower.f0.shape[0] == round(1.5 * features.f0.shape[0])
    assert slower.envelope.shape[1] == features.envelope.shape[1]
    voiced, slow_voiced = features.f0[features.f0 > 0], slower.f0[slower.f0 > 0]
    assert np.median(slow_voiced) == pytest.approx(np.median(voiced), rel=0.01)
    assert vocoder.stretch_time(features, 1.0) is features
    with pytest.raises(ValueError, match="ratio"):
        vocoder.stretch_time(features, 10.0)


def test_correct_envelope_applies_the_change_in_db_and_checks_its_shape():
    features = vocoder.world_analyse(_gliding_vowel(0.5, 140.0))
    frames = 1 + int(0.5 * SAMPLE_RATE) // 256
    louder_high = np.zeros((N_BINS, frames))
    louder_high[N_BINS // 2:] = 6.0
    corrected = vocoder.correct_envelope(features, louder_high)
    ratio_db = 10 * np.log10(corrected.envelope / features.envelope)
    bins = features.envelope.shape[1]
    assert np.allclose(ratio_db[:, : bins // 3], 0.0, atol=1e-6)
    assert np.allclose(ratio_db[:, 2 * bins // 3:], 6.0, atol=1e-6)
    with pytest.raises(ValueError, match="correction_db"):
        vocoder.correct_envelope(features, np.zeros((10, frames)))


def test_a_prosody_conversion_moves_pitch_and_rate_and_strength_zero_is_the_vocoder_alone():
    voice = _gliding_vowel(1.0, 130.0)
    change = ProsodyChange(f0_shift_semitones=6.0, f0_spread_ratio=1.5, duration_ratio=0.8)
    settings = ConversionSettings.of("world", change)
    converted = inference.convert_audio(voice, None, settings=settings)
    assert len(converted) == round(0.8 * len(voice))
    centre, spread = _voiced_centre_and_spread(vocoder.world_f0(voice))
    new_centre, new_spread = _voiced_centre_and_spread(vocoder.world_f0(converted))
    assert 12 * (new_centre - centre) == pytest.approx(6.0, abs=0.7)
    assert new_spread / spread == pytest.approx(1.5, rel=0.25)
    assert speech_level_db(converted) == pytest.approx(speech_level_db(voice), abs=1.0)
    # Strength 0 is exactly the vocoder alone; --no-prosody keeps pitch and timing.
    alone = inference.vocoder_only(voice, vocoder="world")
    np.testing.assert_array_equal(
        inference.convert_audio(voice, None, settings=settings, strength=0.0), alone)
    kept = inference.convert_audio(voice, None, settings=settings, prosody=False)
    np.testing.assert_array_equal(kept, alone)
    half = inference.convert_audio(voice, None, settings=settings, strength=0.5)
    assert len(half) == round(0.8 ** 0.5 * len(voice))


def test_world_alone_keeps_a_voice_s_pitch_length_and_loudness():
    voice = 0.01 * vowel(0.8, 150.0) / 0.3  # quiet: -40 dB FS peak
    alone = inference.vocoder_only(voice, vocoder="world")
    assert alone.dtype == np.float32 and len(alone) == len(voice)
    assert speech_level_db(alone) == pytest.approx(speech_level_db(voice), abs=1.0)
    f0 = vocoder.world_f0(alone)
    assert np.median(f0[f0 > 0]) == pytest.approx(150.0, rel=0.03)
