"""Prosody that follows the sentence: one learned model predicts, frame by frame, the target
emotion's pitch contour and local speaking rate from the input's own prosody.

Where the global prosody change (stages/prosody.py) moves every clip's pitch level, range and
duration by the same three numbers, the contour model reads the input along the sentence and
says where the pitch should rise or fall and where the speech should slow down or hurry, for
any of CONTOUR_EMOTIONS (the emotion is an input of the one model).

The model's frames are CONTOUR_HOP WORLD frames (10 ms). Its inputs (`contour_inputs`), all
relative to the speaker's own voice so that they carry over to any voice:

- log2 F0 minus the clip's median over voiced frames (octaves), interpolated through the
  unvoiced frames, and that track seen at several time scales (a continuous wavelet transform
  with Ricker wavelets at WAVELET_SCALES frames, after Zhou et al. 2020);
- voicing (0/1), frame energy relative to the clip's loudest frame (dB / 40), and position in
  the phrase (0 at the first speech frame, 1 at the last);

and its outputs per frame: the target's log2 F0 minus the input's median (octaves), log2 of
the local speaking rate (target frames per input frame), and (models with the energy output,
`ContourNetwork.predicts_energy`) how much the frame's energy relative to the clip's loudest
frame changes (dB / ENERGY_SCALE_DB): where an angry take is louder on its stressed syllables
and quieter between them, a sad one flatter. The network
(`ContourNetwork`: dilated 1-D convolutions with residual connections) runs here in NumPy from
the weights file, so converting imports no deep-learning framework; model/contour_network.py
builds the same network in Keras to train it (training/contour_training.py).

`ContourProsody` is the stage: the predicted contour replaces the input's F0 on its voiced
frames, the frames are warped in time by the predicted rate (vocoder.warp_time), both scaled by
strength (the contour moves `strength` of the way in log F0, the rate is raised to `strength`).
With the energy output, the envelope of each voiced frame is scaled so that its level relative
to the loudest frame is the input's moved by the predicted change (`energy_gains_db`),
`strength` of the way from where the stages before left it: the energy contour is replaced as
the pitch contour is, and the loudness step after the synthesis keeps the clip's overall level.
The gains are read on the voiced frames within SPEECH_SPAN_DB of the loudest (the frames the
network was trained on); the frames between take the gains of those either side
(interpolated), and the gains are smoothed over ENERGY_SMOOTHING frames, so a consonant keeps
its level relative to its vowel and a pause its level relative to the speech around it:
changing those frame by frame cost words (docs/research_notes.md).

Given a `level` (a global ProsodyChange: pitch shift, range ratio, duration ratio), the stage
keeps the model's shape and local timing but takes the clip's pitch level, range and overall
duration from that change (`at_global_level`): where the global change moves every clip's
median and range by the same numbers, this one puts the model's contour at that median and
range. The utterance statistics then match the global change's, and what differs is where in
the sentence the pitch moves and the speech slows.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from spectrogan.audio.contour_frames import frame_energy_on_world_grid
from spectrogan.audio.vocoder import WorldFeatures, warp_time, with_f0
from spectrogan.core.atomic_files import atomic_folder
from spectrogan.core.errors import UserError
from spectrogan.core.strength import FULL_STRENGTH, check_strength
from spectrogan.stages.prosody import ProsodyChange, centre_and_spread
from spectrogan.stages.stage import Stage, StageContext

CONTOUR_HOP = 2  # WORLD frames (5 ms) per model frame
CONTOUR_EMOTIONS = ("angry", "disgust", "fearful", "happy", "sad", "surprised")
WAVELET_SCALES = (2.0, 4.0, 8.0, 16.0, 32.0)  # model frames: 20 ms to 320 ms
ENERGY_SCALE_DB = 40.0
SPEECH_SPAN_DB = 35.0  # frames this far below the loudest are not speech (phrase position)
INPUT_NAMES = ("log2_f0", "voiced", "energy", "position",
               *(f"ricker_{scale:g}" for scale in WAVELET_SCALES))
RATE_LIMIT_OCTAVES = 1.0  # the local rate stays within half and twice the input's
CONTOUR_LIMIT_OCTAVES = 1.5  # the contour stays within 1.5 octaves of the input's median
ENERGY_LIMIT_DB = 12.0  # no frame's envelope is scaled by more than this
ENERGY_SMOOTHING = 10  # WORLD frames (50 ms): the level changes syllable by syllable
# How a calibration may be fitted (training/contour_training.calibration); the first made the
# shipped model's.
CALIBRATIONS = ("frames", "clips")
MODEL_FILE = "contour_model.npz"
MODEL_CONFIG = "config.json"
MIN_VOICED = 5


def interpolated_log2_f0(f0: np.ndarray) -> tuple[np.ndarray, np.ndarray, float] | None:
    """(log2 F0 minus its median over voiced frames, interpolated linearly through unvoiced
    frames and held at the ends; the voiced mask; the median log2 F0) of an F0 track (Hz, 0
    where unvoiced), or None with fewer than MIN_VOICED voiced frames."""
    f0 = np.asarray(f0, dtype=np.float64)
    voiced = f0 > 0
    if voiced.sum() < MIN_VOICED:
        return None
    log2 = np.log2(np.where(voiced, f0, 1.0))
    median = float(np.median(log2[voiced]))
    frames = np.arange(f0.size)
    track = np.interp(frames, frames[voiced], log2[voiced]) - median
    return track, voiced, median


def ricker_transform(track: np.ndarray, scales: tuple[float, ...] = WAVELET_SCALES
                     ) -> np.ndarray:
    """float32 (T, len(scales)) continuous wavelet transform of a 1-D track with Ricker
    ("Mexican hat") wavelets of width `scales` frames, normalised to unit energy; the track
    is reflected at its ends."""
    track = np.asarray(track, dtype=np.float64)
    columns = []
    for scale in scales:
        half = int(min(5 * scale, track.size - 1))
        t = np.arange(-half, half + 1) / scale
        wavelet = (1.0 - t ** 2) * np.exp(-t ** 2 / 2.0)
        wavelet /= np.sqrt(np.sum(wavelet ** 2))
        padded = np.pad(track, half, mode="reflect") if half else track
        columns.append(np.convolve(padded, wavelet, mode="valid"))
    return np.stack(columns, axis=1).astype(np.float32)


def speech_span(energy_db: np.ndarray) -> tuple[int, int]:
    """(first, last) frame within SPEECH_SPAN_DB of the loudest."""
    loud = np.flatnonzero(energy_db >= energy_db.max() - SPEECH_SPAN_DB)
    return int(loud[0]), int(loud[-1])


def on_model_grid(track: np.ndarray) -> np.ndarray:
    """Every CONTOUR_HOP-th WORLD frame of a track."""
    return np.asarray(track)[::CONTOUR_HOP]


def contour_inputs(f0: np.ndarray, energy_db: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, float] | None:
    """The model's inputs from a clip's WORLD-grid F0 (Hz) and frame energy (dBFS, both (T,)):
    (float32 (T', len(INPUT_NAMES)) on the model grid, T' = ceil(T / CONTOUR_HOP); the voiced
    mask (T',); the median log2 F0), or None when the clip has too little voicing."""
    if f0.shape != energy_db.shape:
        raise ValueError(f"f0 and energy_db must share one shape, got {f0.shape} and "
                         f"{energy_db.shape}")
    interpolated = interpolated_log2_f0(on_model_grid(f0))
    if interpolated is None:
        return None
    track, voiced, median = interpolated
    energy = on_model_grid(energy_db).astype(np.float64)
    first, last = speech_span(energy)
    position = np.clip((np.arange(track.size) - first) / max(1, last - first), -0.5, 1.5)
    columns = [track, voiced.astype(np.float64),
               (energy - energy.max()) / ENERGY_SCALE_DB, position]
    inputs = np.concatenate([np.stack(columns, axis=1), ricker_transform(track)], axis=1)
    return inputs.astype(np.float32), voiced, median


def emotion_code(emotion: str) -> np.ndarray:
    """float32 one-hot (len(CONTOUR_EMOTIONS),) of `emotion`."""
    if emotion not in CONTOUR_EMOTIONS:
        raise ValueError(f"emotion must be one of {CONTOUR_EMOTIONS}, got {emotion!r}")
    return np.eye(len(CONTOUR_EMOTIONS), dtype=np.float32)[CONTOUR_EMOTIONS.index(emotion)]


def _conv1d(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray, dilation: int) -> np.ndarray:
    """'same' 1-D convolution (as Keras' Conv1D with zero padding) of x (T, C) with kernel
    (K, C, C'), K odd."""
    taps = kernel.shape[0]
    reach = (taps - 1) // 2 * dilation
    padded = np.pad(x, ((reach, reach), (0, 0)))
    out = np.zeros((x.shape[0], kernel.shape[2]), dtype=np.float32)
    for tap in range(taps):
        start = tap * dilation
        out += padded[start:start + x.shape[0]] @ kernel[tap]
    return out + bias


@dataclass(frozen=True)
class ContourNetwork:
    """The contour model's weights and shape (model/contour_network.py's network, in NumPy).

    weights: name -> float32 array, as model/contour_network.py names its layers
    ('input_kernel', 'block_i_kernel', ..., 'output_kernel' and their biases). dilations: one
    per residual block. config: the JSON-ready description saved beside the weights; its
    "calibration" (per emotion: contour_gain, contour_offset_octaves, rate_offset_octaves,
    fitted on the training actors by training/contour_training.calibration) undoes the
    regression to the mean of a network trained on noisy targets: the predicted contour's
    movement around its own mean is multiplied by the gain (global variance compensation,
    Toda and Tokuda 2007) and both outputs are moved by the offsets (fitted frame by frame or
    clip by clip: CALIBRATIONS; config "calibration_method", absent for the frame-wise fit
    of models that predate the choice). The energy change is the network's own.
    """

    weights: dict[str, np.ndarray]
    dilations: tuple[int, ...]
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def predicts_energy(self) -> bool:
        """Whether the network has the energy output (a third column)."""
        return self.weights["output_kernel"].shape[2] == 3

    def predict(self, inputs: np.ndarray, emotion: str) -> np.ndarray:
        """float32 (T', 2 or 3): per model frame, the target's log2 F0 minus the input's
        median, log2 of the local rate and (`predicts_energy`) the energy change /
        ENERGY_SCALE_DB, for inputs (T', len(INPUT_NAMES)) and a target emotion (calibrated
        when the config holds a calibration for it)."""
        raw = self.raw_predict(inputs, emotion)
        calibration = (self.config.get("calibration") or {}).get(emotion)
        if calibration is None:
            return raw
        voiced = inputs[:, 1] > 0
        centre = float(raw[voiced, 0].mean()) if voiced.any() else float(raw[:, 0].mean())
        calibrated = raw.copy()
        calibrated[:, 0] = centre + calibration["contour_gain"] * (raw[:, 0] - centre) \
            + calibration["contour_offset_octaves"]
        calibrated[:, 1] = raw[:, 1] + calibration["rate_offset_octaves"]
        return calibrated.astype(np.float32)

    def raw_predict(self, inputs: np.ndarray, emotion: str) -> np.ndarray:
        """The network's own output (`predict` before the calibration)."""
        code = np.broadcast_to(emotion_code(emotion), (inputs.shape[0], len(CONTOUR_EMOTIONS)))
        x = np.concatenate([inputs, code], axis=1).astype(np.float32)
        w = self.weights
        hidden = np.maximum(_conv1d(x, w["input_kernel"], w["input_bias"], 1), 0.0)
        for block, dilation in enumerate(self.dilations):
            step = _conv1d(hidden, w[f"block_{block}_kernel"], w[f"block_{block}_bias"],
                           dilation)
            hidden = hidden + np.maximum(step, 0.0)
        return _conv1d(hidden, w["output_kernel"], w["output_bias"], 1)


def load_contour_network(folder: str | Path) -> ContourNetwork:
    """The contour model saved in `folder` (MODEL_FILE beside MODEL_CONFIG); UserError naming
    the file when it is missing or does not fit its config."""
    folder = Path(folder)
    weights_path, config_path = folder / MODEL_FILE, folder / MODEL_CONFIG
    if not weights_path.is_file() or not config_path.is_file():
        raise UserError(f"{folder}: no contour model ({MODEL_FILE} and {MODEL_CONFIG}); train "
                        "one with `python tools/train_contour.py`")
    try:
        config = json.loads(config_path.read_text())
        with np.load(weights_path) as saved:
            weights = {name: saved[name].astype(np.float32) for name in saved.files}
        dilations = tuple(int(d) for d in config["network"]["dilations"])
        if tuple(config["inputs"]) != INPUT_NAMES \
                or tuple(config["emotions"]) != CONTOUR_EMOTIONS:
            raise ValueError("its inputs or emotions are not this version's")
        network = ContourNetwork(weights, dilations, config)
        if network.weights["output_kernel"].shape[2] not in (2, 3):
            raise ValueError("its output layer is not this version's")
        network.predict(np.zeros((4, len(INPUT_NAMES)), np.float32), CONTOUR_EMOTIONS[0])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{weights_path}: not a contour model of this version ({exc}); train "
                        "one with `python tools/train_contour.py`") from None
    return network


def save_contour_network(folder: str | Path, network: ContourNetwork) -> Path:
    """Write `network` as MODEL_FILE beside MODEL_CONFIG (its config) in `folder`, which
    appears whole or not at all (atomic_files.atomic_folder); what `load_contour_network`
    reads."""
    def fill(tmp: Path) -> None:
        with open(tmp / MODEL_FILE, "wb") as handle:
            np.savez(handle, **network.weights)
        (tmp / MODEL_CONFIG).write_text(json.dumps(network.config, indent=2) + "\n")

    return atomic_folder(folder, fill)


def at_global_level(predicted: np.ndarray, inputs: np.ndarray, level: ProsodyChange
                    ) -> np.ndarray:
    """The model's prediction with the pitch level, range and overall duration `level` gives.

    Over the voiced frames, the contour is moved and scaled about its own median so that its
    median and 10th-90th percentile range (prosody.SPREAD_PERCENTILES) are the input's moved by
    `level` (the median up by its shift, the range times its ratio, as prosody.map_f0 moves
    them); the log2 rate is offset so that the clip lasts `level.duration_ratio` times as long.

    Args:
        predicted: float (T', 2 or 3) of ContourNetwork.predict: log2 F0 re the input's
            median (octaves), log2 local rate and any energy change, per model frame.
        inputs: float (T', len(INPUT_NAMES)) the prediction was made from (the first column
            the input's log2 F0 re its median, the second its voicing).
        level: the global change whose level, range and duration are taken.
    Returns:
        float32 in the same form (any energy change kept); `predicted` unchanged without a
        voiced frame.
    """
    predicted = np.asarray(predicted, dtype=np.float64)
    if predicted.ndim != 2 or predicted.shape[1] not in (2, 3) \
            or predicted.shape[0] != inputs.shape[0]:
        raise ValueError(f"predicted must be (T', 2 or 3) on the inputs' {inputs.shape[0]} "
                         f"frames, got shape {predicted.shape}")
    voiced = inputs[:, 1] > 0
    if not voiced.any():
        return predicted.astype(np.float32)
    source_centre, source_spread = centre_and_spread(inputs[voiced, 0])
    goal_centre = source_centre + level.f0_shift_semitones / 12.0
    goal_spread = source_spread * level.f0_spread_ratio
    contour = predicted[:, 0]
    centre, spread = centre_and_spread(contour[voiced])
    # a flat prediction has no shape to scale: it is only moved
    gain = goal_spread / spread if spread > 1e-4 else 1.0
    contour = goal_centre + gain * (contour - centre)
    rate = np.clip(predicted[:, 1], -RATE_LIMIT_OCTAVES, RATE_LIMIT_OCTAVES)
    rate = rate + np.log2(level.duration_ratio * rate.size / np.sum(2.0 ** rate))
    return np.column_stack([contour, rate, predicted[:, 2:]]).astype(np.float32)


def envelope_level_db(envelope: np.ndarray) -> np.ndarray:
    """float64 (T,) each frame's level in dB relative to the loudest frame, from a WORLD
    power spectral envelope (T, B) (the sum over bins of each frame's power)."""
    power = np.sum(np.asarray(envelope, dtype=np.float64), axis=1)
    level = 10.0 * np.log10(np.maximum(power, 1e-30))
    return level - level.max()


def energy_gains_db(change: np.ndarray, *, input_level_db: np.ndarray,
                    current_level_db: np.ndarray, strength: float) -> np.ndarray:
    """float64 (T,) dB by which to scale each WORLD frame's envelope so that its level re the
    loudest frame moves `strength` of the way from `current_level_db` (where the stages before
    left it) to `input_level_db` + `change` (all (T,) dB), within +-ENERGY_LIMIT_DB."""
    change = np.asarray(change, dtype=np.float64)
    if change.shape != input_level_db.shape or change.shape != current_level_db.shape:
        raise ValueError(f"change, input_level_db and current_level_db must share one shape, "
                         f"got {change.shape}, {input_level_db.shape}, "
                         f"{current_level_db.shape}")
    gains = strength * (input_level_db + change - current_level_db)
    return np.clip(gains, -ENERGY_LIMIT_DB, ENERGY_LIMIT_DB)


def syllable_gains_db(gains: np.ndarray, voiced: np.ndarray) -> np.ndarray:
    """float64 (T,) frame gains (dB) read on the `voiced` frames (bool (T,): the voiced
    speech frames) alone, interpolated linearly through the others (held at the ends) and
    smoothed by a moving average of ENERGY_SMOOTHING frames; zeros without a voiced frame."""
    gains, voiced = np.asarray(gains, dtype=np.float64), np.asarray(voiced, dtype=bool)
    if gains.shape != voiced.shape or gains.ndim != 1:
        raise ValueError(f"gains and voiced must be one (T,) shape, got {gains.shape} and "
                         f"{voiced.shape}")
    if not voiced.any():
        return np.zeros_like(gains)
    frames = np.arange(gains.size)
    held = np.interp(frames, frames[voiced], gains[voiced])
    padded = np.pad(held, (ENERGY_SMOOTHING // 2, ENERGY_SMOOTHING - 1 - ENERGY_SMOOTHING // 2),
                    mode="edge")
    return np.convolve(padded, np.ones(ENERGY_SMOOTHING) / ENERGY_SMOOTHING, mode="valid")


def rate_positions(log2_rate: np.ndarray, frames: int) -> np.ndarray:
    """The WORLD-grid source positions of the output frames when model frame i is played
    2 ** log2_rate[i] times as long: float (T_out,) for a track of `frames` WORLD frames."""
    rate = 2.0 ** np.clip(np.repeat(log2_rate, CONTOUR_HOP)[:frames],
                          -RATE_LIMIT_OCTAVES, RATE_LIMIT_OCTAVES)
    ends = np.concatenate([[0.0], np.cumsum(rate)])  # output time at each source frame edge
    count = max(1, int(round(ends[-1])))
    return np.interp(np.arange(count) + 0.5, ends, np.arange(frames + 1)) - 0.5


@dataclass(frozen=True, eq=False)
class ContourProsody(Stage):
    """The contour model's prosody for `emotion`. model: its folder as config.json gives it
    (relative to the model folder); network: the loaded model; strength in [0, 1]; level: a
    global prosody change whose pitch level, range and duration the contour takes
    (`at_global_level`), or None for the model's own."""

    emotion: str
    model: str
    network: ContourNetwork = field(repr=False, compare=False)
    strength: float = FULL_STRENGTH
    level: ProsodyChange | None = None

    key: ClassVar[str] = "contour_prosody"
    vocoders: ClassVar[tuple[str, ...]] = ("world",)
    learned_by: ClassVar[str] = ("tools/train_contour.py (chosen per pair by "
                                 "tools/choose_conversion.py)")
    title: ClassVar[str] = "the contour model's prosody"
    moves_prosody: ClassVar[bool] = True
    excludes: ClassVar[tuple[str, ...]] = ("prosody",)  # it replaces the global change
    work: ClassVar[float] = 0.02

    def __post_init__(self) -> None:
        emotion_code(self.emotion)
        check_strength(self.strength)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ContourProsody) and self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash(self._identity())

    def _identity(self) -> tuple:
        # the network is named by its folder: two loads of one model are the same stage
        return self.emotion, self.model, self.strength, self.level

    @classmethod
    def read(cls, inference: dict[str, Any], *, config: dict[str, Any], where: str
             ) -> ContourProsody | None:
        entry = inference.get(cls.key)
        if entry is None:
            return None
        if not isinstance(entry, dict) or not {"emotion", "model"} <= set(entry) \
                <= {"emotion", "model", "level"} or entry["emotion"] not in CONTOUR_EMOTIONS:
            raise UserError(f"{where}: inference.{cls.key} must be an object with emotion (one "
                            f"of {', '.join(CONTOUR_EMOTIONS)}), model (a folder) and "
                            f"optionally level (a prosody change); got {entry!r}")
        level = entry.get("level")
        if level is not None:
            level = ProsodyChange.from_config(level, where=f"{where}: {cls.key}.level")
        # named relative to the model folder: '../contour_model' beside the pairs' folders
        folder = Path(os.path.normpath(Path(where).parent / entry["model"]))
        return cls(entry["emotion"], str(entry["model"]), load_contour_network(folder),
                   level=level)

    @classmethod
    def from_config(cls, entry: Any, *, where: str) -> ContourProsody:
        return cls.read({cls.key: entry}, config={}, where=where)

    def to_config(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"emotion": self.emotion, "model": self.model}
        if self.level is not None:
            entry["level"] = self.level.to_config()
        return entry

    @property
    def is_identity(self) -> bool:
        return self.strength == 0

    def scaled(self, strength: float) -> ContourProsody:
        return replace(self, strength=self.strength * check_strength(strength))

    def at_level(self, level: ProsodyChange | None) -> ContourProsody:
        """This stage with the pitch level, range and duration of `level` (None: its own)."""
        return replace(self, level=level)

    def describe(self) -> str:
        moved = ("pitch contour, timing and loudness contour" if self.network.predicts_energy
                 else "pitch contour and timing")
        words = f"the contour model's {moved} of {self.emotion} along the sentence"
        if self.level is None:
            return words
        return (f"{words}, at the global change's level, range and duration "
                f"({self.level.describe()})")

    def applied_words(self) -> str:
        return "" if self.is_identity else self.describe()

    def apply(self, signal: WorldFeatures, context: StageContext) -> WorldFeatures:
        if self.is_identity:
            return signal
        frames = signal.f0.shape[0]
        energy = frame_energy_on_world_grid(context.source)[:frames]
        energy = np.pad(energy, (0, frames - energy.size), mode="edge")
        prepared = contour_inputs(signal.f0, energy)
        if prepared is None:  # no pitch to move: the input's prosody stays
            return signal
        inputs, _, median = prepared
        predicted = self.network.predict(inputs, self.emotion)
        if self.level is not None:
            predicted = at_global_level(predicted, inputs, self.level)
        track = inputs[:, 0]
        contour = track + self.strength * (np.clip(predicted[:, 0], -CONTOUR_LIMIT_OCTAVES,
                                                   CONTOUR_LIMIT_OCTAVES) - track)
        on_world = np.interp(np.arange(frames) / CONTOUR_HOP, np.arange(track.size), contour)
        f0 = np.where(signal.f0 > 0, 2.0 ** (median + on_world), 0.0)
        changed = with_f0(signal, f0)
        if self.network.predicts_energy:
            speech = (signal.f0 > 0) & (energy > energy.max() - SPEECH_SPAN_DB)
            changed = self._with_energy(changed, predicted[:, 2], speech, context)
        positions = rate_positions(self.strength * predicted[:, 1], frames)
        return warp_time(changed, positions)

    def _with_energy(self, signal: WorldFeatures, change: np.ndarray, speech: np.ndarray,
                     context: StageContext) -> WorldFeatures:
        if not isinstance(context.analysis, WorldFeatures) \
                or context.analysis.f0.shape != signal.f0.shape:
            raise ValueError("the contour model's energy change needs the input's WORLD "
                             "analysis on the signal's frames (StageContext.analysis)")
        frames = signal.f0.shape[0]
        change_db = ENERGY_SCALE_DB * np.interp(np.arange(frames) / CONTOUR_HOP,
                                                np.arange(change.size), change)
        gains = energy_gains_db(change_db,
                                input_level_db=envelope_level_db(context.analysis.envelope),
                                current_level_db=envelope_level_db(signal.envelope),
                                strength=self.strength)
        gains = syllable_gains_db(gains, speech)
        return WorldFeatures(signal.f0, signal.envelope * 10.0 ** (gains[:, None] / 10.0),
                             signal.aperiodicity)

    def timing_ratio(self, before: WorldFeatures, after: WorldFeatures) -> float:
        """The warp depends on the clip: its ratio is the frames' after over before."""
        return after.f0.shape[0] / before.f0.shape[0]


def contour_stage(emotion: str, model_folder: str | Path, contour_folder: str | Path, *,
                  level: ProsodyChange | None = None) -> ContourProsody:
    """The contour model in `contour_folder` as the stage of a pair whose model folder is
    `model_folder` (config.json names it relative to that folder), at `level` if given."""
    relative = os.path.relpath(Path(contour_folder).resolve(), Path(model_folder).resolve())
    return ContourProsody(emotion, relative, load_contour_network(contour_folder), level=level)
