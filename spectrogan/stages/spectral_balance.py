"""The emotion's spectral balance: how much stronger or weaker the voice is at each frequency,
relative to the rest of its spectrum, in the target emotion than in the speaker's calm speech;
learned from the training actors, and the pure transform that applies it to WORLD's envelope.

Speaking with more effort (angry, happy, surprised) lifts the upper harmonics and formants
against the low ones; sad speech is darker. That is the long-term average spectrum of the
voice, a smooth curve over frequency which a speaker's own timbre shifts but an emotion moves
the same way for everyone. A `SpectralBalance` is that change as BAND_COUNT gains in dB, one
per mel-spaced band (BAND_HZ), learned like the prosody change: per training actor, the mean
band levels of their voiced speech frames in the target emotion minus those in their own calm
speech (so the voice cancels), averaged over actors, with the mean over bands removed, since
loudness is not the balance's job (every conversion ends at the input's speech level, see
loudness.keep_loudness).

`apply_balance` multiplies the envelope of the voiced frames by the gains, interpolated along
the mel scale (`gains_on_bins`); `SpectralBalance.scaled` follows the strength and `inverse`
undoes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

import numpy as np

from spectrogan.audio.audio_files import load_audio
from spectrogan.data.corpus import measured_by_actor
from spectrogan.core.errors import UserError
from spectrogan.stages.prosody import MIN_VOICED_FRAMES, speech_frames
from spectrogan.audio.spectro import SAMPLE_RATE
from spectrogan.core.strength import scale_shifts
from spectrogan.stages.stage import Stage, StageContext
from spectrogan.audio.vocoder import WorldFeatures, world_envelope

BAND_COUNT = 20
BAND_EDGES_HZ = (80.0, 7800.0)  # the outer edges of the lowest and highest band
BALANCE_LIMIT_DB = 24.0  # a gain larger than this either way is a config error


def _hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def _mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


_EDGES_MEL = np.linspace(*_hz_to_mel(np.asarray(BAND_EDGES_HZ)), BAND_COUNT + 2)
# Band centres, rounded for config.json and messages.
BAND_HZ = tuple(float(round(hz)) for hz in _mel_to_hz(_EDGES_MEL[1:-1]))


@dataclass(frozen=True)
class SpectralBalance(Stage):
    """Gains in dB at BAND_HZ (all 0: the identity)."""

    gains_db: tuple[float, ...] = (0.0,) * BAND_COUNT

    key: ClassVar[str] = "spectral_balance"
    vocoders: ClassVar[tuple[str, ...]] = ("world",)
    learned_by: ClassVar[str] = "tools/choose_prosody.py or tools/world_balance.py"
    title: ClassVar[str] = "the spectral balance"

    def __post_init__(self) -> None:
        gains = self.gains_db
        if not isinstance(gains, tuple) or len(gains) != BAND_COUNT or not all(
                isinstance(g, (int, float)) and not isinstance(g, bool)
                and abs(g) <= BALANCE_LIMIT_DB for g in gains):
            raise ValueError(f"gains_db must be {BAND_COUNT} numbers within "
                             f"+-{BALANCE_LIMIT_DB:g} dB, got {gains!r}")

    @property
    def is_identity(self) -> bool:
        """True when applying it changes nothing."""
        return not any(self.gains_db)

    def scaled(self, strength: float) -> SpectralBalance:
        """`strength` of the way (0: the identity, 1: itself), every gain times `strength`."""
        return SpectralBalance(scale_shifts(self.gains_db, strength))

    def inverse(self) -> SpectralBalance:
        """The balance that undoes this one."""
        return SpectralBalance(tuple(-float(g) for g in self.gains_db))

    def describe(self) -> str:
        """In words: 'spectral balance +4.2 dB above 2 kHz against below 500 Hz'."""
        hz, gains = np.asarray(BAND_HZ), np.asarray(self.gains_db)
        tilt = float(gains[hz >= 2000].mean() - gains[hz <= 500].mean())
        return f"spectral balance {tilt:+.1f} dB above 2 kHz against below 500 Hz"

    def applied_words(self) -> str:
        return "" if self.is_identity else f"the {self.describe()}"

    def apply(self, signal: WorldFeatures, context: StageContext) -> WorldFeatures:
        """`apply_balance` of WORLD features."""
        return apply_balance(signal, self)

    def to_config(self) -> dict[str, list[float]]:
        """The config.json form ("inference": {"spectral_balance": {...}}): the gains and the
        band centres they belong to."""
        return {"band_hz": list(BAND_HZ),
                "gains_db": [round(float(g), 3) for g in self.gains_db]}

    @classmethod
    def from_config(cls, entry: Any, *, where: str) -> SpectralBalance:
        """Read a config.json "spectral_balance" entry; UserError naming `where` when it is
        malformed or made for other bands."""
        if not isinstance(entry, dict) or set(entry) != {"band_hz", "gains_db"}:
            raise UserError(f"{where}: inference.spectral_balance must be an object with "
                            f"band_hz and gains_db; got {entry!r}")
        if not isinstance(entry["band_hz"], list) \
                or not np.allclose(np.asarray(entry["band_hz"], dtype=float), BAND_HZ):
            raise UserError(f"{where}: inference.spectral_balance.band_hz was made for other "
                            f"bands than this version's {BAND_COUNT}; learn it again with "
                            "tools/choose_prosody.py")
        try:
            return cls(tuple(entry["gains_db"]) if isinstance(entry["gains_db"], list)
                       else entry["gains_db"])
        except ValueError as exc:
            raise UserError(f"{where}: inference.spectral_balance.{exc}") from None


def band_filters(bins: int, sample_rate: int) -> np.ndarray:
    """Triangular mel filters, float64 (BAND_COUNT, bins), over `bins` frequencies from 0 to
    sample_rate / 2; each row sums to 1 (a weighted mean of the bins it covers)."""
    mel = _hz_to_mel(np.linspace(0.0, sample_rate / 2.0, bins))
    low, centre, high = _EDGES_MEL[:-2, None], _EDGES_MEL[1:-1, None], _EDGES_MEL[2:, None]
    weights = np.maximum(0.0, np.minimum((mel - low) / (centre - low),
                                         (high - mel) / (high - centre)))
    return weights / weights.sum(axis=1, keepdims=True)


def band_levels_db(envelope: np.ndarray, *, sample_rate: int) -> np.ndarray:
    """Mean level in dB of each band over the given frames of a power envelope.

    Args:
        envelope: float (T, B) power spectral envelope (B bins from 0 to sample_rate / 2),
            T >= 1 frames (the frames to average, e.g. the voiced speech frames).
    Returns:
        float64 (BAND_COUNT,): per frame 10 log10 of the band's mean power, averaged over
        frames.
    """
    envelope = np.asarray(envelope, dtype=np.float64)
    if envelope.ndim != 2 or envelope.shape[0] < 1:
        raise ValueError(f"envelope must be (T >= 1, B), got shape {envelope.shape}")
    power = envelope @ band_filters(envelope.shape[1], sample_rate).T
    return (10.0 * np.log10(np.maximum(power, 1e-30))).mean(axis=0)


def utterance_band_levels(audio: np.ndarray) -> np.ndarray | None:
    """One clip's band levels (dB, BAND_COUNT) over its voiced speech frames
    (prosody.speech_frames), from WORLD's envelope; None with fewer than
    prosody.MIN_VOICED_FRAMES such frames."""

    f0, envelope = world_envelope(audio)
    speech = speech_frames(audio, f0)
    if speech.sum() < MIN_VOICED_FRAMES:
        return None
    return band_levels_db(envelope[speech], sample_rate=SAMPLE_RATE)


def gains_on_bins(balance: SpectralBalance, bins: int, sample_rate: int) -> np.ndarray:
    """The balance's gains (dB) at `bins` frequencies from 0 to sample_rate / 2, interpolated
    linearly along the mel scale between band centres and held beyond the outer ones."""
    mel = _hz_to_mel(np.linspace(0.0, sample_rate / 2.0, bins))
    return np.interp(mel, _EDGES_MEL[1:-1], np.asarray(balance.gains_db, dtype=np.float64))


def apply_balance(features: Any, balance: SpectralBalance) -> Any:
    """vocoder.WorldFeatures with the voiced frames' envelope times 10 ** (gain / 10); the
    unvoiced frames (consonants, pauses) and everything else unchanged."""

    if balance.is_identity:
        return features
    gains = 10.0 ** (gains_on_bins(balance, features.envelope.shape[1], SAMPLE_RATE) / 10.0)
    envelope = features.envelope.copy()
    voiced = features.f0 > 0
    envelope[voiced] *= gains
    return WorldFeatures(features.f0, envelope, features.aperiodicity)


def learn_spectral_balance(files: Sequence[Any], *, source: str, target: str,
                           actors: Sequence[int], measure: Any = None
                           ) -> tuple[SpectralBalance, dict[int, SpectralBalance]]:
    """The average `source` -> `target` balance change of `actors` (a model's training actors).

    Args:
        files: corpus.RavdessFile records (path, emotion, actor).
        source, target: emotion names as the records spell them.
        actors: whose clips count; never the validation or test actors.
        measure: called with a path, returns its band levels (BAND_COUNT,) or None (default:
            load the file and `utterance_band_levels`); a cache can stand in.
    Returns:
        (the average change, each actor's own), each with its mean over bands removed and
        kept within +-BALANCE_LIMIT_DB.
    Raises:
        UserError when no actor in `actors` has measurable clips of both emotions.
    """

    if measure is None:
        def measure(path: Any) -> np.ndarray | None:
            return utterance_band_levels(load_audio(path))

    def balance(difference: np.ndarray) -> SpectralBalance:
        centred = np.clip(difference - difference.mean(), -BALANCE_LIMIT_DB, BALANCE_LIMIT_DB)
        return SpectralBalance(tuple(float(g) for g in centred))

    differences = {actor: np.mean(np.asarray(target_levels, dtype=np.float64), axis=0)
                   - np.mean(np.asarray(source_levels, dtype=np.float64), axis=0)
                   for actor, (source_levels, target_levels) in measured_by_actor(
                       files, source=source, target=target, actors=actors,
                       measure=measure).items()}
    per_actor = {actor: balance(d) for actor, d in differences.items()}
    return balance(np.mean(list(differences.values()), axis=0)), per_actor
