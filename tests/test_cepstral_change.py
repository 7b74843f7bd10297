"""cepstral_change.py: the emotion's learned change of the spectrum's statistics (each coded
envelope coefficient's mean and spread over voiced frames), applied to WORLD's envelope, and its
place in the conversion settings and the WORLD path."""

from __future__ import annotations

import numpy as np
import pytest

from spectrogan.stages import cepstral_change as cc
from spectrogan.conversion import inference
from spectrogan.audio import vocoder
from spectrogan.stages.cepstral_change import DIMENSIONS, CepstralChange, CepstralMoments
from spectrogan.stages.conversion_settings import ConversionSettings
from spectrogan.data.corpus import RavdessFile
from spectrogan.core.errors import UserError
from spectrogan.audio.loudness import loudness_db


WIDER = CepstralChange((0.0,) + (0.05,) * (DIMENSIONS - 1), (1.2,) + (1.5,) * (DIMENSIONS - 1))


def _moving_voice(seconds: float = 1.2, f0: float = 130.0) -> np.ndarray:
    """A voice whose spectrum moves: three vowels in turn (formants at 700/1800, 400/2300 and
    600/1000 Hz), 0.2 s each."""
    sr = 16000
    t = np.arange(int(seconds * sr)) / sr
    formants = ((700, 1800), (400, 2300), (600, 1000))
    which = (t // 0.2).astype(int) % len(formants)
    wave = np.zeros_like(t)
    for k in range(1, int(7500 / f0) + 1):
        gain = np.zeros_like(t)
        for index, (first, second) in enumerate(formants):
            weight = (np.exp(-0.5 * ((k * f0 - first) / 150) ** 2)
                      + 0.6 * np.exp(-0.5 * ((k * f0 - second) / 200) ** 2)
                      + 0.05 * 500 / (500 + k * f0))
            gain[which == index] = weight
        wave += gain * np.sin(2 * np.pi * k * f0 * t)
    return (0.3 * wave / np.abs(wave).max()).astype(np.float32)


def test_scaling_the_inverse_and_the_description():
    assert CepstralChange().is_identity and WIDER.scaled(0.0).is_identity
    assert WIDER.scaled(1.0) == WIDER
    half = WIDER.scaled(0.5)
    assert half.shift[1] == pytest.approx(0.025) and half.spread_ratio[1] == pytest.approx(1.5 ** 0.5)
    undone = WIDER.inverse()
    assert undone.shift[1] == -0.05 and undone.spread_ratio[1] == pytest.approx(1 / 1.5)
    assert "x1.50" in WIDER.describe() and "x1.20" in WIDER.describe()
    with pytest.raises(ValueError, match="strength"):
        WIDER.scaled(1.5)


@pytest.mark.parametrize("shift, ratio", [
    ((0.0,) * (DIMENSIONS - 1), (1.0,) * DIMENSIONS),  # one too few
    ((1.0,) + (0.0,) * (DIMENSIONS - 1), (1.0,) * DIMENSIONS),  # the level's shift
    ((0.0,) * DIMENSIONS, (5.0,) * DIMENSIONS),  # a ratio out of range
    ((0.0,) * DIMENSIONS, (True,) * DIMENSIONS)])
def test_a_change_out_of_range_is_refused_with_the_value(shift, ratio):
    with pytest.raises(ValueError, match="shift|spread_ratio"):
        CepstralChange(shift, ratio)


def test_applying_moves_only_the_voiced_frames_and_the_inverse_undoes_it():
    features = vocoder.world_analyse(_moving_voice(0.6))
    assert cc.apply_cepstral_change(features, CepstralChange()) is features
    changed = cc.apply_cepstral_change(features, WIDER)
    unvoiced = features.f0 == 0
    assert unvoiced.any() and (~unvoiced).any()
    np.testing.assert_array_equal(changed.envelope[unvoiced], features.envelope[unvoiced])
    assert not np.allclose(changed.envelope[~unvoiced], features.envelope[~unvoiced])
    back = cc.apply_cepstral_change(changed, WIDER.inverse())
    np.testing.assert_allclose(10 * np.log10(back.envelope / features.envelope), 0.0, atol=0.05)
    np.testing.assert_array_equal(changed.f0, features.f0)


def test_a_converted_voice_measures_the_wider_spread_and_strength_zero_is_the_vocoder():
    """The whole loop: apply the change in the WORLD path, measure the result the way the
    training actors are measured: the spectrum moves about 1.5 times as far."""
    voice = _moving_voice()
    settings = ConversionSettings.of("world", WIDER)
    converted = inference.convert_audio(voice, None, settings=settings)
    alone = inference.vocoder_only(voice, vocoder="world")
    assert len(converted) == len(voice)
    assert loudness_db(converted) == pytest.approx(loudness_db(voice), abs=1.0)  # BS.1770
    before, after = cc.utterance_moments(alone), cc.utterance_moments(converted)
    moving = before.std[1:9] > 0.05  # the coefficients the three vowels move
    assert moving.sum() >= 3
    ratio = np.exp(np.mean(np.log(after.std[1:9][moving] / before.std[1:9][moving])))
    assert 1.3 < ratio < 1.7
    np.testing.assert_array_equal(
        inference.convert_audio(voice, None, settings=settings, strength=0.0), alone)
    # --no-prosody keeps the voice's change (it is timbre, not prosody).
    np.testing.assert_array_equal(
        inference.convert_audio(voice, None, settings=settings, prosody=False), converted)


def test_pooled_moments_are_those_of_all_the_frames():
    rng = np.random.default_rng(5)
    blocks = [rng.normal(i, 1 + i, size=(n, DIMENSIONS)) for i, n in enumerate((30, 50, 7))]
    clips = [CepstralMoments(len(b), b.mean(axis=0), b.std(axis=0)) for b in blocks]
    mean, std = cc.pooled_moments(clips)
    every = np.concatenate(blocks)
    np.testing.assert_allclose(mean, every.mean(axis=0))
    np.testing.assert_allclose(std, every.std(axis=0))


def test_learning_finds_the_shared_change_not_the_voices():
    """Two actors with different voices; in the target emotion both shift every coefficient
    by the same amount and spread it 1.4 times as wide: the learned change is that (the level's
    shift left at 0), each actor's own too."""
    rng = np.random.default_rng(3)
    shift = rng.normal(0, 0.2, DIMENSIONS)
    moments: dict[str, CepstralMoments] = {}
    files = []
    for actor in (1, 2):
        voice_mean, voice_std = rng.normal(0, 1, DIMENSIONS), rng.uniform(0.5, 2, DIMENSIONS)
        for emotion, move, spread in (("calm", 0.0, 1.0), ("happy", shift, 1.4)):
            for take in range(2):
                path = f"/clips/{emotion}{actor}{take}.wav"
                moments[path] = CepstralMoments(100, voice_mean + move, voice_std * spread)
                files.append(RavdessFile(path=path, emotion=emotion, intensity="normal",
                                         statement=1, repetition=take + 1, actor=actor,
                                         sex="male"))
    learned, per_actor = cc.learn_cepstral_change(files, source="calm", target="happy",
                                                  actors=[1, 2], measure=moments.get)
    assert set(per_actor) == {1, 2}
    np.testing.assert_allclose(learned.shift[1:], shift[1:], atol=1e-9)
    assert learned.shift[0] == 0.0
    np.testing.assert_allclose(learned.spread_ratio, 1.4, rtol=1e-9)
    with pytest.raises(UserError, match="no measurable clips"):
        cc.learn_cepstral_change(files, source="calm", target="happy", actors=[9],
                                 measure=moments.get)


def test_the_config_carries_the_change_and_refuses_a_bad_one():
    record = WIDER.to_config()
    config = {"inference": {"vocoder": "world", "cepstral_change": record}}
    settings = ConversionSettings.from_config(config, where="m/config.json")
    assert settings.stage(CepstralChange) == WIDER
    assert "spectral movement" in settings.describe()
    assert settings.converts_without_generator
    for bad, message in (({"shift": record["shift"]}, "spread_ratio"),
                         ({"shift": record["shift"], "spread_ratio": [9.0] * DIMENSIONS},
                          "spread_ratio must be")):
        with pytest.raises(UserError, match=message):
            ConversionSettings.from_config({"inference": {"vocoder": "world",
                                                          "cepstral_change": bad}},
                                           where="m/config.json")
    with pytest.raises(UserError, match="world vocoder"):
        ConversionSettings.from_config({"inference": {"cepstral_change": record}},
                                       where="m/config.json")


def test_world_changes_name_every_change_the_synthesis_applies_and_only_those():
    from spectrogan.stages.envelope_model import EnvelopeModel
    from spectrogan.stages.prosody import ProsodyChange

    learned_alone = ConversionSettings.of("world", EnvelopeModel(applied=False),
                                          ProsodyChange(6.5, 1.0, 0.9), WIDER)
    words = learned_alone.world_changes()
    assert "envelope change" not in words and "semitones" in words
    assert "spectral movement" in words and "spectral balance" not in words
    assert ConversionSettings.of("world").world_changes() == "the model's envelope change"
    assert ConversionSettings.of("world", EnvelopeModel(applied=False)).world_changes() \
        == "no change"
