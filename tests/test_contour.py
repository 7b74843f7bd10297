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
from spectrogan.stages.contour_prosody import (ENERGY_LIMIT_DB, ENERGY_SMOOTHING, INPUT_NAMES,
                                               ContourProsody, at_global_level,
                                               contour_inputs, energy_gains_db,
                                               envelope_level_db, load_contour_network,
                                               rate_positions, ricker_transform,
                                               syllable_gains_db)
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


def test_alignment_reads_how_much_deeper_the_targets_level_contour_is():
    source = _frames(600)
    deeper = {**source, "energy_db": 1.5 * source["energy_db"]}  # pauses 12.5 dB further down
    example = training.aligned_example(source, deeper, actor=1, corpus="crema", emotion="angry")
    level = example.inputs[:, 2]
    assert example.energy_mask.mean() > 0.5 and (level[example.energy_mask] < -0.5).any()
    # the change is half the input's level re its loudest frame, frame by frame
    assert np.median(np.abs(example.energy - 0.5 * level)[example.energy_mask]) < 0.01
    fitted = training.global_statistics([example])["angry"]
    assert fitted[3:] == pytest.approx((0.0, 0.5), abs=0.05)  # offset, slope of the change


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


def _level_depth(audio: np.ndarray) -> float:
    """Standard deviation (dB) of the frame level over a clip's speech frames."""
    from spectrogan.audio.contour_frames import frame_energy_on_world_grid

    level = frame_energy_on_world_grid(audio)
    return float(np.std(level[level > level.max() - 35.0]))


def test_the_energy_output_reshapes_the_level_contour_and_strength_scales_it(tmp_path):
    t = np.arange(16000) / 16000.0
    swelling = vowel(1.0, 130.0) * (0.55 + 0.45 * np.sin(2 * np.pi * 2.0 * t)).astype(np.float32)
    alone = inference.vocoder_only(swelling, vocoder="world")
    depths = {}
    for gain in (0.5, 1.5):
        network = save_tiny_contour_model(tmp_path / f"model_{gain}", energy_gain=gain)
        assert network.predicts_energy
        stage = ContourProsody("angry", f"../model_{gain}", network)
        assert "loudness contour" in stage.describe()
        settings = ConversionSettings.of("world", stage)
        depths[gain] = _level_depth(inference.convert_audio(swelling, None, settings=settings))
        np.testing.assert_array_equal(
            inference.convert_audio(swelling, None, settings=settings, strength=0.0), alone)
        half = inference.convert_audio(swelling, None, settings=settings, strength=0.5)
        depths[(gain, 0.5)] = _level_depth(half)
    depth = _level_depth(alone)
    assert depths[0.5] < 0.75 * depth and depths[1.5] > 1.25 * depth
    assert depths[0.5] < depths[(0.5, 0.5)] < depth < depths[(1.5, 0.5)] < depths[1.5]


def test_energy_gains_move_the_current_levels_to_the_inputs_plus_the_change():
    envelope = np.array([[1.0, 1.0], [0.1, 0.1], [0.01, 0.01]])
    level = envelope_level_db(envelope)
    np.testing.assert_allclose(level, [0.0, -10.0, -20.0])
    current = np.array([0.0, -5.0, -30.0])  # where earlier stages left the frames
    gains = energy_gains_db(np.array([0.0, -4.0, 6.0]), input_level_db=level,
                            current_level_db=current, strength=1.0)
    np.testing.assert_allclose(gains, [0.0, -9.0, ENERGY_LIMIT_DB])  # 16 dB is limited
    halfway = energy_gains_db(np.array([0.0, -4.0, 6.0]), input_level_db=level,
                              current_level_db=current, strength=0.5)
    np.testing.assert_allclose(halfway, [0.0, -4.5, 8.0])
    with pytest.raises(ValueError, match="share one shape"):
        energy_gains_db(np.zeros(2), input_level_db=level, current_level_db=current,
                        strength=1.0)


def test_gains_are_read_on_voiced_frames_and_change_syllable_by_syllable():
    voiced = np.zeros(100, dtype=bool)
    voiced[10:40] = voiced[60:90] = True
    gains = np.where(np.arange(100) < 50, 4.0, -2.0)
    gains[~voiced] = 12.0  # what a pause or a consonant alone would ask: never read
    smooth = syllable_gains_db(gains, voiced)
    assert smooth.shape == (100,) and smooth.max() <= 4.0 and smooth.min() >= -2.0
    np.testing.assert_allclose(smooth[:30], 4.0)  # held before the first voiced frame
    np.testing.assert_allclose(smooth[70:], -2.0)
    # between the two syllables the gain passes from one to the other, no step larger than
    # a moving average of the interpolated ramp allows
    assert np.abs(np.diff(smooth)).max() <= 6.0 / ENERGY_SMOOTHING + 1e-9
    np.testing.assert_array_equal(syllable_gains_db(gains, np.zeros(100, bool)), 0.0)
    with pytest.raises(ValueError, match="one \\(T,\\) shape"):
        syllable_gains_db(gains, voiced[:50])


def test_at_the_global_level_the_contour_keeps_its_shape_at_that_level_range_and_duration():
    frames = _frames(400)
    inputs, voiced, _ = contour_inputs(frames["f0"], frames["energy_db"])
    t = np.arange(len(inputs))
    shape = 0.3 * np.sin(t / 11.0) + 0.002 * t  # a contour unlike the input's
    rate = 0.4 * np.sin(t / 30.0) - 0.2
    level = ProsodyChange(f0_shift_semitones=6.0, f0_spread_ratio=1.5, duration_ratio=0.8)
    moved = at_global_level(np.stack([shape, rate], 1), inputs, level)

    def centre_and_spread(track):
        low, high = np.percentile(track[voiced], (10, 90))
        return np.median(track[voiced]), high - low

    centre, spread = centre_and_spread(moved[:, 0])
    source_centre, source_spread = centre_and_spread(inputs[:, 0])
    assert centre == pytest.approx(source_centre + 0.5, abs=1e-4)
    assert spread == pytest.approx(1.5 * source_spread, rel=1e-3)
    # the shape is the model's, not the input's
    assert np.corrcoef(moved[voiced, 0], shape[voiced])[0, 1] > 0.999
    assert np.mean(2.0 ** moved[:, 1]) == pytest.approx(0.8, rel=1e-4)
    np.testing.assert_allclose(np.diff(moved[:, 1]), np.diff(rate), atol=1e-5)
    flat = at_global_level(np.zeros((len(inputs), 2)), inputs, level)  # no shape: only moved
    assert np.ptp(flat[:, 0]) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="predicted must be"):
        at_global_level(np.zeros((3, 2)), inputs, level)


def test_a_contour_stage_at_a_level_converts_and_round_trips_its_config(tmp_path):
    network = save_tiny_contour_model(tmp_path / "contour_model", rise=0.3, log2_rate=0.3)
    level = ProsodyChange(f0_shift_semitones=-3.0, f0_spread_ratio=1.0, duration_ratio=1.25)
    stage = ContourProsody("sad", "../contour_model", network, level=level)
    settings = ConversionSettings.of("world", stage)
    config = {"inference": settings.record()}
    folder = tmp_path / "calm2sad"
    folder.mkdir()
    again = ConversionSettings.from_config(config, where=str(folder / "config.json"))
    assert again.stage(ContourProsody) == stage and again.stage(ContourProsody).level == level
    assert stage.at_level(None) != stage and "global change's level" in stage.describe()
    voice = vowel(1.0, 130.0)
    converted = inference.convert_audio(voice, None, settings=settings)
    # the level's duration and pitch, not the network's +0.3 octaves and slower rate
    assert len(converted) == pytest.approx(1.25 * len(voice), rel=0.05)
    before, after = vocoder.world_f0(voice), vocoder.world_f0(converted)
    fall = np.log2(np.median(after[after > 0]) / np.median(before[before > 0]))
    assert fall == pytest.approx(-0.25, abs=0.06)
    np.testing.assert_array_equal(
        inference.convert_audio(voice, None, settings=settings, strength=0.0),
        inference.vocoder_only(voice, vocoder="world"))
    bad = {"inference": {"vocoder": "world", "contour_prosody": {
        **stage.to_config(), "level": {"duration_ratio": 9.0}}}}
    with pytest.raises(UserError, match="duration_ratio"):
        ConversionSettings.from_config(bad, where=str(folder / "config.json"))


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
    assert network.predicts_energy and network.config["network"]["outputs"] == 3
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


def test_recalibrating_keeps_the_network_and_fits_its_calibration_again(tmp_path, capsys):
    """--recalibrate on a RAVDESS layout of a training and a validation actor (file names
    only: the tool reads tools/contour_data.py's measurements, not the audio)."""
    tool = load_tool("train_contour")
    corpus, frames = tmp_path / "ravdess", tmp_path / "frames" / "ravdess"
    frames.mkdir(parents=True)
    for actor in (1, 15):
        (corpus / f"Actor_{actor:02d}").mkdir(parents=True)
        for emotion, octaves in ((2, 0.0), (3, 0.3)):  # calm, and happy a little higher
            name = f"03-01-{emotion:02d}-01-01-01-{actor:02d}"
            (corpus / f"Actor_{actor:02d}" / f"{name}.wav").write_bytes(b"")
            take = _stretched(_frames(300, actor), 1.1 if emotion == 3 else 1.0, octaves)
            np.savez(frames / f"{name}.npz", **take)
    network = save_tiny_contour_model(tmp_path / "model")
    out = tmp_path / "recalibrated"
    assert tool.main(["--frames", str(tmp_path / "frames"), "--ravdess", str(corpus),
                      "--recalibrate", str(tmp_path / "model"), "--calibration", "clips",
                      "--out", str(out)]) == 0
    assert "1 training and 1 validation pairs" in capsys.readouterr().out
    again = load_contour_network(out)
    assert set(again.weights) == set(network.weights)
    for name, weights in network.weights.items():
        np.testing.assert_array_equal(again.weights[name], weights)
    assert set(again.config["calibration"]) == {"happy"}
    assert again.config["calibration_method"] == "clips"
    assert again.config["training"]["recalibrated_from"] == str(tmp_path / "model")
    assert again.config["training"]["train_actors"] == [1]
    assert tool.main(["--frames", str(tmp_path / "frames"), "--ravdess", str(corpus),
                      "--recalibrate", str(tmp_path / "none"), "--out",
                      str(tmp_path / "other")]) == 2
    assert "train_contour.py" in capsys.readouterr().err


def _happy_examples() -> list:
    return [training.aligned_example(_frames(400, seed), _stretched(_frames(400, seed), 1.0, 0.2),
                                     actor=seed, corpus="ravdess", emotion="happy")
            for seed in range(3)]


def test_calibration_restores_the_spread_a_network_trained_on_noisy_targets_loses(tmp_path):
    network = save_tiny_contour_model(tmp_path / "model")
    examples = _happy_examples()
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
    with pytest.raises(ValueError, match="method must be one of"):
        training.calibration(network, examples, method="words")
    assert "energy_gain" not in table["happy"]  # a network without the energy output


def test_the_calibration_leaves_the_energy_change_as_the_network_gives_it(tmp_path):
    examples = []
    for seed in range(3):
        source = _frames(400, seed)
        deeper = {**source, "energy_db": 1.5 * source["energy_db"]}
        examples.append(training.aligned_example(source, deeper, actor=seed, corpus="crema",
                                                 emotion="angry"))
    network = save_tiny_contour_model(tmp_path / "model", energy_gain=1.2)
    for method in ("frames", "clips"):
        table = training.calibration(network, examples, method=method)
        assert set(table["angry"]) == {"contour_gain", "contour_offset_octaves",
                                       "rate_offset_octaves"}
        calibrated = dataclasses.replace(network, config={**network.config,
                                                          "calibration": table})
        inputs = examples[0].inputs
        moved = calibrated.predict(inputs, "angry")
        assert moved.shape == (len(inputs), 3)
        np.testing.assert_array_equal(moved[:, 2], network.raw_predict(inputs, "angry")[:, 2])
        assert moved[:, 0] != pytest.approx(network.raw_predict(inputs, "angry")[:, 0])


def _width(track: np.ndarray, source: np.ndarray) -> float:
    """How many times wider track's 10th-90th percentile range is than source's."""
    return np.ptp(np.percentile(track, (10, 90))) / np.ptp(np.percentile(source, (10, 90)))


def test_the_clip_calibration_brings_clips_to_the_targets_level_range_and_duration(tmp_path):
    network = save_tiny_contour_model(tmp_path / "model")
    examples = _happy_examples()
    # one network that hardly moves (its gain reaches the limit) and one that moves more
    lively = dataclasses.replace(network, weights={
        **network.weights, "output_kernel": 40.0 * network.weights["output_kernel"]})
    for model in (network, lively):
        table = training.calibration(model, examples, method="clips")
        calibrated = dataclasses.replace(model, config={**model.config, "calibration": table})
        level_gaps, duration_gaps, widths = [], [], []
        for e in examples:
            predicted, voiced = calibrated.predict(e.inputs, "happy"), e.inputs[:, 1] > 0
            level_gaps.append(np.median(e.f0_target[e.f0_mask])
                              - np.median(predicted[voiced, 0]))
            duration_gaps.append(np.log2(np.sum(2.0 ** e.rate[e.rate_mask])
                                         / np.sum(2.0 ** predicted[e.rate_mask, 1])))
            raw = model.raw_predict(e.inputs, "happy")
            widths.append((_width(predicted[voiced, 0], e.inputs[voiced, 0]),
                           _width(raw[voiced, 0], e.inputs[voiced, 0]),
                           _width(e.f0_target[e.f0_mask], e.inputs[e.f0_mask, 0])))
        # on the pairs it was fitted on, on average: the targets' median pitch and duration
        assert np.mean(level_gaps) == pytest.approx(0.0, abs=1e-3)
        assert np.mean(duration_gaps) == pytest.approx(0.0, abs=1e-3)
        made, own, real = np.median(widths, axis=0)
        assert made == pytest.approx(min(real, 4.0 * own), rel=0.05)  # 4: the gain's limit
    assert 0.5 < table["happy"]["contour_gain"] < 4.0  # the lively one: the targets' width


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


def test_the_contour_figure_draws_pitch_and_level_before_and_after(tmp_path, capsys):
    from helpers import save_tiny_model, speech_wav

    tool = load_tool("contour_figure")
    save_tiny_model(tmp_path / "models" / "calm2sad", pair="calm2sad", target="sad", filters=2,
                    inference={"vocoder": "world"})
    save_tiny_contour_model(tmp_path / "contour", energy_gain=0.5)
    clip = speech_wav(tmp_path / "calm.wav", 1.0)
    out = tmp_path / "figure.png"
    assert tool.main([str(clip), "--emotion", "sad", "--models", str(tmp_path / "models"),
                      "--contour", str(tmp_path / "contour"), "-o", str(out)]) == 0
    from PIL import Image

    assert Image.open(out).size == (900, 560)  # two panels: pitch above, level below
    assert tool.main([str(tmp_path / "none.wav"), "--emotion", "sad", "--models",
                      str(tmp_path / "models"), "-o", str(tmp_path / "other.png")]) == 2
    assert not (tmp_path / "other.png").exists()
