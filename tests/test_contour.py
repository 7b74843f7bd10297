"""The contour model: its inputs, the aligned training targets, the network in NumPy and in
Keras, and the stage that applies it in the WORLD synthesis."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from spectrogan.audio import vocoder
from spectrogan.conversion import inference
from spectrogan.core.errors import UserError
from spectrogan.data.corpus import RavdessFile
from spectrogan.data.crema import CremaFile
from spectrogan.stages.contour_prosody import (INPUT_NAMES, ContourProsody,
                                               contour_inputs, load_contour_network,
                                               rate_positions, ricker_transform)
from spectrogan.stages.conversion_settings import ConversionSettings
from spectrogan.stages.prosody import ProsodyChange
from spectrogan.training import contour_training as training

from conftest import load_tool, vowel
from helpers import save_tiny_contour_model


def _frames(frames: int, seed: int = 0) -> dict[str, np.ndarray]:
    """A clip's contour_frames arrays: a gliding voiced F0 with pauses, speech-like energy,
    MFCCs that wander (so an alignment has something to follow)."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames)
    f0 = 140.0 * 2.0 ** (0.2 * np.sin(t / 40.0))
    f0[(t % 90) > 75] = 0.0
    energy = np.where(f0 > 0, -20.0, -45.0)
    mfcc = np.cumsum(rng.normal(0.0, 1.0, (frames, 20)), axis=0)
    return {"f0": f0, "energy_db": energy.astype(np.float32), "mfcc": mfcc.astype(np.float32)}


def _stretched(frames: dict[str, np.ndarray], factor: float, octaves: float) -> dict:
    """The same take `factor` times as long and `octaves` higher."""
    index = np.minimum((np.arange(int(len(frames["f0"]) * factor)) / factor).astype(int),
                       len(frames["f0"]) - 1)
    return {"f0": frames["f0"][index] * 2.0 ** octaves, "energy_db": frames["energy_db"][index],
            "mfcc": frames["mfcc"][index]}


def test_inputs_are_relative_to_the_speaker_and_see_several_time_scales():
    frames = _frames(600)
    inputs, voiced, median = contour_inputs(frames["f0"], frames["energy_db"])
    assert inputs.shape == (300, len(INPUT_NAMES)) and voiced.shape == (300,)
    higher, _, higher_median = contour_inputs(frames["f0"] * 2.0, frames["energy_db"])
    np.testing.assert_allclose(higher, inputs, atol=1e-5)  # an octave up: the same inputs
    assert higher_median == pytest.approx(median + 1.0)
    assert contour_inputs(np.zeros(100), np.full(100, -20.0)) is None  # nothing voiced
    slow = ricker_transform(np.sin(np.arange(400) / 30.0))
    assert np.abs(slow[:, -1]).mean() > 5 * np.abs(slow[:, 0]).mean()  # large scales see it


def test_alignment_recovers_a_known_stretch_and_pitch_rise():
    source = _frames(600)
    example = training.aligned_example(source, _stretched(source, 1.5, 0.5), actor=1,
                                       corpus="ravdess", emotion="sad")
    rate = 2.0 ** np.median(example.rate[example.rate_mask])
    assert rate == pytest.approx(1.5, abs=0.12)
    known = example.f0_mask
    assert known.mean() > 0.5
    np.testing.assert_allclose(np.median(example.f0_target[known] - example.inputs[known, 0]),
                               0.5, atol=0.05)


def test_every_emotional_take_meets_its_own_calm_take():
    def ravdess(emotion, statement, repetition, intensity="normal", actor=3):
        return RavdessFile(Path(f"{emotion}{statement}{repetition}{intensity}.wav"), emotion,
                           intensity, statement, repetition, actor, "male")

    calm = [ravdess("calm", s, r) for s in (1, 2) for r in (1, 2)]
    happy = ravdess("happy", 2, 1)
    loud = ravdess("angry", 1, 2, "strong")  # no strong calm take of it: no pair
    neutral = CremaFile(Path("1001_DFA_NEU_XX.flac"), "neutral", "normal", "DFA", 1001)
    fear = CremaFile(Path("1001_DFA_FEA_XX.flac"), "fearful", "normal", "DFA", 1001)
    other = CremaFile(Path("1002_DFA_FEA_XX.flac"), "fearful", "normal", "DFA", 1002)
    pairs = training.contour_pairs([*calm, happy, loud, neutral, fear, other])
    assert pairs == [(calm[2], happy), (neutral, fear)]


def test_rate_positions_play_each_frame_as_long_as_asked():
    np.testing.assert_allclose(rate_positions(np.zeros(50), 100), np.arange(100), atol=1e-9)
    slower = rate_positions(np.ones(50), 100)
    assert len(slower) == 200 and slower[0] < slower[-1] <= 99.5


def test_the_stage_moves_pitch_and_timing_and_strength_zero_is_the_vocoder(tmp_path):
    network = save_tiny_contour_model(tmp_path / "contour_model", rise=0.5, log2_rate=0.3)
    stage = ContourProsody("surprised", "../contour_model", network)
    settings = ConversionSettings.of("world", stage)
    voice = vowel(1.0, 130.0)
    converted = inference.convert_audio(voice, None, settings=settings)
    assert len(converted) == pytest.approx(2 ** 0.3 * len(voice), rel=0.05)
    before, after = vocoder.world_f0(voice), vocoder.world_f0(converted)
    rise = np.log2(np.median(after[after > 0]) / np.median(before[before > 0]))
    assert rise == pytest.approx(0.5, abs=0.1)
    alone = inference.vocoder_only(voice, vocoder="world")
    np.testing.assert_array_equal(
        inference.convert_audio(voice, None, settings=settings, strength=0.0), alone)
    np.testing.assert_array_equal(
        inference.convert_audio(voice, None, settings=settings, prosody=False), alone)
    with pytest.raises(ValueError, match="cannot run beside prosody"):
        settings.with_stage(ProsodyChange(2.0))


def test_a_missing_or_foreign_contour_model_is_one_clear_error(tmp_path):
    with pytest.raises(UserError, match="train_contour.py"):
        load_contour_network(tmp_path / "nothing")
    save_tiny_contour_model(tmp_path / "model")
    (tmp_path / "model" / "config.json").write_text('{"inputs": ["pitch"]}')
    with pytest.raises(UserError, match="not a contour model of this version"):
        load_contour_network(tmp_path / "model")
    config = {"inference": {"vocoder": "world", "contour_prosody": {"emotion": "calm",
                                                                    "model": "../model"}}}
    with pytest.raises(UserError, match="inference.contour_prosody"):
        ConversionSettings.from_config(config, where=str(tmp_path / "pair" / "config.json"))


@pytest.mark.slow
def test_the_keras_network_trains_and_runs_as_the_numpy_one():
    examples = [training.aligned_example(_frames(300, seed), _stretched(_frames(300, seed), 1.2,
                                                                        0.3),
                                         actor=seed, corpus="ravdess", emotion="happy")
                for seed in range(4)]
    settings = training.ContourTraining(channels=4, dilations=(1, 2), epochs=2, batch_size=2)
    network, record = training.fit_contour_network(examples[:3], examples[3:], settings,
                                                   verbose=0)
    assert record["epochs_run"] == 2 and len(record["val_loss"]) == 2
    from spectrogan.model.contour_network import build_contour_network

    keras_network = build_contour_network(inputs=network.weights["input_kernel"].shape[1],
                                          channels=4, dilations=(1, 2))
    for layer in keras_network.layers:
        if f"{layer.name}_kernel" in network.weights:
            layer.set_weights([network.weights[f"{layer.name}_kernel"],
                               network.weights[f"{layer.name}_bias"]])
    x, _ = training.stacked(examples[3:])
    np.testing.assert_allclose(np.asarray(keras_network(x))[0],
                               network.predict(examples[3].inputs, "happy"), atol=1e-4)


def test_the_training_command_says_what_to_run_first(tmp_path, capsys):
    tool = load_tool("train_contour")
    assert tool.main(["--frames", str(tmp_path / "none"), "--out", str(tmp_path / "m")]) == 2
    assert "tools/contour_data.py" in capsys.readouterr().err
    save_tiny_contour_model(tmp_path / "m")
    (tmp_path / "frames").mkdir()
    assert tool.main(["--frames", str(tmp_path / "frames"), "--out", str(tmp_path / "m")]) == 2
    assert "--force" in capsys.readouterr().err
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    assert tool.main(["--frames", str(tmp_path / "frames"), "--out", str(tmp_path / "mine"),
                      "--force"]) == 2
    assert "other files" in capsys.readouterr().err
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_calibration_restores_the_spread_a_network_trained_on_noisy_targets_loses(tmp_path):
    network = save_tiny_contour_model(tmp_path / "model")
    examples = [training.aligned_example(_frames(400, seed), _stretched(_frames(400, seed), 1.0,
                                                                        0.2),
                                         actor=seed, corpus="ravdess", emotion="happy")
                for seed in range(3)]
    table = training.calibration(network, examples)
    assert set(table) == {"happy"}
    # The tiny network barely moves: the targets' spread is far larger, the gain says so.
    assert table["happy"]["contour_gain"] > 1.5
    calibrated = dataclasses.replace(network, config={**network.config, "calibration": table})
    inputs = examples[0].inputs
    raw, moved = network.raw_predict(inputs, "happy"), calibrated.predict(inputs, "happy")
    voiced = inputs[:, 1] > 0
    centre = raw[voiced, 0].mean()
    np.testing.assert_allclose(moved[:, 0], centre + table["happy"]["contour_gain"]
                               * (raw[:, 0] - centre)
                               + table["happy"]["contour_offset_octaves"], atol=1e-5)
    np.testing.assert_allclose(moved[:, 1], raw[:, 1] + table["happy"]["rate_offset_octaves"],
                               atol=1e-6)
    # An emotion with no calibration is the network's own output.
    np.testing.assert_array_equal(calibrated.predict(inputs, "sad"),
                                  network.raw_predict(inputs, "sad"))


def test_choosing_without_a_contour_model_says_how_to_train_one(tmp_path, capsys):
    tool = load_tool("choose_conversion")
    assert tool.main(["--out", str(tmp_path / "out"), "--contour", str(tmp_path / "none")]) == 2
    assert "train_contour.py" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # nothing written before the check


def test_dtw_follows_the_cheapest_monotonic_path():
    route = [(0, 0), (1, 0), (2, 1), (2, 2), (2, 3), (3, 4), (4, 5)]
    cost = np.ones((5, 6))
    for i, j in route:
        cost[i, j] = 0.0
    np.testing.assert_array_equal(training.dtw_path(cost), route)
    np.testing.assert_array_equal(training.dtw_path(np.zeros((1, 3))), [(0, 0), (0, 1), (0, 2)])
    with pytest.raises(ValueError, match="non-empty 2-D"):
        training.dtw_path(np.zeros((0, 3)))
