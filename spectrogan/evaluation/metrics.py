"""What evaluate.py measures, apart from its command line: signal metrics, the emotion
judges' features, the offline speech recogniser and the feature cache.

- Signal metrics: mel-cepstral distortion after dynamic time warping (`mcd_dtw`), F0 contour
  (pYIN), frame energy and speech activity, energy-envelope correlation.
- Utterance features (`clip_features`: MFCC, spectral, energy and F0 functionals, then the
  contour and spectral-shape features of shape_features.py); the judges trained on them are
  judges.py's.
- Content: pocketsphinx with the RAVDESS sentence grammar and with its open-vocabulary
  English model (`SentenceRecogniser`), and `word_error_rate`.
- `FeatureCache`: features and recogniser results keyed by a hash of the decoded samples, so
  repeated evaluations skip the slow pYIN pass.

evaluate.py's docstring says what each figure means and how it is computed.
"""

from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from spectrogan.core.atomic_files import atomic_output
from spectrogan.data.corpus import STATEMENTS
from spectrogan.data.crema import CREMA_SENTENCES
from spectrogan.core.errors import UserError
from spectrogan.audio.pitch import F0_FRAME, F0_MAX, F0_MIN
from spectrogan.audio.loudness import (TRIM_DB, active_frames, at_speech_level,  # noqa: F401
                                       frame_energy_db, speech_level_db)
from spectrogan.audio.audio_files import load_audio
from spectrogan.core.processes import map_in_processes
from spectrogan.evaluation.shape_features import SHAPE_BANDS, SHAPE_NAMES, shape_features
from spectrogan.audio.spectro import AMIN, HOP_LENGTH, N_FFT, SAMPLE_RATE, TOP_DB, stft

# --- Metric settings ------------------------------------------------------------------------
MCEP_ORDER = 24  # mel-cepstral coefficients 1..24 enter the distortion (c0 = level excluded)
MCEP_ALPHA = 0.42  # all-pass frequency warping that approximates the mel scale at 16 kHz
MCD_CONSTANT = 10.0 * math.sqrt(2.0) / math.log(10.0)  # cepstral distance (nepers) -> dB
# Bump when clip_features changes, so cached vectors are recomputed (5: the second judge's
# contour and spectral-shape features, shape_features.py, appended).
FEATURE_VERSION = 5
# Speech level (speech_level_db) every clip is brought to before its classifier features: the
# judge must hear the emotion, not the playback gain (a louder clip is not an angrier one).
FEATURE_LEVEL_DB = -30.0
# Speech level (speech_level_db) every clip is brought to before the recogniser hears it.
# pocketsphinx's word error depends on the playback level, not only on the words: on the
# validation actors' 16 calm clips through the vocoder it was 0.31 as recorded (about -49 dB
# FS), 0.44 at +20 dB, and 0.41 / 0.34 / 0.23 brought to -30 / -40 / -50 dB FS; their real
# angry clips 0.48 as recorded (-33 dB FS) and 0.27 at -50 dB FS. So a louder clip read as
# "fewer words kept". Normalising first makes the figure a measure of the words alone.
RECOGNISER_LEVEL_DB = -50.0
SENTENCE_GRAMMAR = ("#JSGF V1.0;\ngrammar ravdess;\n"
                    "public <sentence> = (kids | dogs) are (talking | sitting) by the door;\n")
# CREMA-D's twelve sentences, one grammar: a clip is "recognised" when its own is decoded.
CREMA_GRAMMAR = ("#JSGF V1.0;\ngrammar crema;\npublic <sentence> = "
                 + " | ".join(text.lower() for text in CREMA_SENTENCES.values()) + ";\n")


def sentence_text(sentence: int | str) -> str:
    """The words of a sentence: a RAVDESS statement number (1 or 2) or the text itself."""
    if isinstance(sentence, str):
        if not sentence.split():
            raise ValueError("a sentence must hold at least one word")
        return sentence
    if sentence not in (1, 2):
        raise ValueError(f"RAVDESS statements are 1 and 2, got {sentence!r}")
    return STATEMENTS[sentence - 1]


# --- Signal metrics -------------------------------------------------------------------------
def speech_span(audio: np.ndarray, *, top_db: float = TRIM_DB) -> tuple[int, int]:
    """(start, stop) sample indices from the first to the last `active_frames` frame; the
    whole clip when that span is shorter than one STFT frame."""
    audio = np.asarray(audio, dtype=np.float32)
    active = np.flatnonzero(active_frames(frame_energy_db(audio), top_db=top_db))
    start = int(active[0]) * HOP_LENGTH
    stop = min(audio.shape[0], (int(active[-1]) + 1) * HOP_LENGTH)
    return (start, stop) if stop - start >= N_FFT else (0, audio.shape[0])


def trim_silence(audio: np.ndarray, *, top_db: float = TRIM_DB) -> np.ndarray:
    """`audio` without its leading and trailing silence (see `speech_span`), float32 1-D."""
    start, stop = speech_span(audio, top_db=top_db)
    return np.asarray(audio, dtype=np.float32)[start:stop]


def floored_magnitude(audio: np.ndarray) -> np.ndarray:
    """STFT magnitude floored TOP_DB below its maximum, float32 (N_BINS, T).

    The model's images (and so every Griffin-Lim output) hold nothing below that floor; the
    metrics and the classifier's spectral features see real recordings the same way, so they
    judge speech, not the representation's floor.
    """
    magnitude = np.abs(stft(np.asarray(audio, dtype=np.float32)))
    floor = max(float(magnitude.max()), 1e-10) * 10.0 ** (-TOP_DB / 20.0)
    return np.maximum(magnitude, floor)


def mel_cepstrum(audio: np.ndarray, *, order: int = MCEP_ORDER,
                 alpha: float = MCEP_ALPHA) -> np.ndarray:
    """Frequency-warped (mel) cepstrum of every STFT frame of `audio`.

    The log amplitude spectrum (natural log of `floored_magnitude`, so that Griffin-Lim output
    and real recordings share a floor) is resampled onto a uniform grid of the
    all-pass-warped frequency beta(w) = w + 2 atan(alpha sin w / (1 - alpha cos w)), and its
    cosine series gives c_m with log|X(w)| = sum_m c_m cos(m beta(w)), the one-sided
    mel-cepstrum that MCD is defined on.

    Args:
        audio: mono float audio at SAMPLE_RATE, at least N_FFT samples.
        order: highest coefficient M.
        alpha: warping factor (0 = plain cepstrum; 0.42 ~ mel at 16 kHz).
    Returns:
        float64 (order + 1, T) with T = STFT frames; row 0 is c0 (level).
    """
    import scipy.fft

    log_amplitude = np.log(floored_magnitude(audio).astype(np.float64))
    bins = log_amplitude.shape[0]
    beta = np.linspace(0.0, np.pi, bins)
    # Inverse warp (all-pass with -alpha): the linear frequency that lands on each beta.
    omega = beta - 2.0 * np.arctan(alpha * np.sin(beta) / (1.0 + alpha * np.cos(beta)))
    position = omega / np.pi * (bins - 1)
    low = np.clip(np.floor(position).astype(int), 0, bins - 2)
    frac = (position - low)[:, None]
    warped = log_amplitude[low] * (1.0 - frac) + log_amplitude[low + 1] * frac
    # DCT-I = trapezoid rule for (2/pi) * integral_0^pi f(beta) cos(m beta) dbeta.
    series = scipy.fft.dct(warped, type=1, axis=0)[:order + 1] / (bins - 1)
    series[0] /= 2.0
    return series


def dtw_path(reference: np.ndarray, estimate: np.ndarray) -> np.ndarray:
    """Dynamic-time-warping alignment of two feature sequences (Euclidean frame distance).

    Args:
        reference: (D, T1) features; estimate: (D, T2) features.
    Returns:
        int (K, 2) path of (reference frame, estimate frame) pairs, from (0, 0) to
        (T1 - 1, T2 - 1), monotone in both columns.
    """
    import librosa

    _, path = librosa.sequence.dtw(X=np.asarray(reference, dtype=np.float64),
                                   Y=np.asarray(estimate, dtype=np.float64),
                                   metric="euclidean", backtrack=True)
    return np.ascontiguousarray(path[::-1])


def mcd_dtw(reference: np.ndarray, estimate: np.ndarray, *, order: int = MCEP_ORDER,
            alpha: float = MCEP_ALPHA, trim: bool = True) -> float:
    """Mel-cepstral distortion (dB) between two clips after DTW alignment.

    Both clips are trimmed of leading/trailing silence (`trim`), turned into mel-cepstra
    (`mel_cepstrum`, c1..c_order; c0 excluded so a level change costs nothing), aligned with
    `dtw_path`, and MCD_CONSTANT * ||c - c'|| is averaged over the aligned frame pairs.
    Identical clips give 0.0; the two clips may differ in length.
    """
    if trim:
        reference, estimate = trim_silence(reference), trim_silence(estimate)
    ref_cep = mel_cepstrum(reference, order=order, alpha=alpha)[1:]
    est_cep = mel_cepstrum(estimate, order=order, alpha=alpha)[1:]
    path = dtw_path(ref_cep, est_cep)
    distances = np.linalg.norm(ref_cep[:, path[:, 0]] - est_cep[:, path[:, 1]], axis=0)
    return float(MCD_CONSTANT * distances.mean())


def f0_contour(audio: np.ndarray) -> np.ndarray:
    """pYIN fundamental frequency per STFT hop: float64 (T,) in Hz, NaN where unvoiced."""
    import librosa

    f0, _, _ = librosa.pyin(np.asarray(audio, dtype=np.float32), fmin=F0_MIN, fmax=F0_MAX,
                            sr=SAMPLE_RATE, frame_length=F0_FRAME, hop_length=HOP_LENGTH)
    return np.asarray(f0, dtype=np.float64)


def level_difference_db(files: Sequence[Any], *, source: str, target: str,
                        actors: Sequence[int]) -> float:
    """How much louder `target` is spoken than `source`, in dB: per actor, the mean
    `speech_level_db` of their `target` clips minus that of their `source` clips, averaged
    over the `actors` who recorded both (RAVDESS records every actor at one gain, so the
    difference is the speaking level, not the microphone's).

    Args:
        files: corpus.RavdessFile records (path, emotion, actor), e.g. corpus.scan_ravdess.
        source, target: emotion names as the records spell them.
        actors: whose clips count (a model's training actors).
    Raises:
        UserError when no actor in `actors` recorded both emotions.
    """
    differences = []
    for actor in sorted(set(actors)):
        levels = {emotion: [speech_level_db(load_audio(f.path)) for f in files
                            if f.actor == actor and f.emotion == emotion]
                  for emotion in (source, target)}
        if levels[source] and levels[target]:
            differences.append(np.mean(levels[target]) - np.mean(levels[source]))
    if not differences:
        raise UserError(f"no clips of both {source} and {target} by actors "
                        f"{', '.join(map(str, sorted(set(actors))))}; check the RAVDESS folder")
    return float(np.mean(differences))


def spectral_convergence_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Spectral convergence in dB of `estimate` against `reference` audio (lower is better):
    20 log10(||S_ref| - |S_est||_F / ||S_ref||_F), on the project's STFT."""
    target = np.abs(stft(np.asarray(reference, dtype=np.float32)))
    rebuilt = np.abs(stft(np.asarray(estimate, dtype=np.float32)))
    frames = min(target.shape[1], rebuilt.shape[1])
    error = np.linalg.norm(target[:, :frames] - rebuilt[:, :frames])
    return float(20.0 * np.log10(max(error, AMIN) / max(np.linalg.norm(target), AMIN)))


# --- Utterance features for the emotion classifier ------------------------------------------
def _feature_names() -> tuple[str, ...]:
    names = [f"mfcc{i}_{stat}" for stat in ("mean", "std") for i in range(20)]
    names += [f"dmfcc{i}_std" for i in range(20)]
    names += [f"{name}_{stat}" for name in ("centroid", "bandwidth", "rolloff", "flatness",
                                             "zcr") for stat in ("mean", "std")]
    names += [f"contrast{i}_mean" for i in range(7)]
    # The loudness contour only, relative to the clip's own speech level (no absolute dB).
    names += ["energy_std", "energy_max_re_mean", "energy_p10_re_mean"]
    # (A frame-to-frame F0 slope was tried and dropped: pYIN's small steps change with the
    # slightest resynthesis, so it judged the vocoder rather than the voice.)
    names += ["f0_mean_hz", "f0_std_hz", "f0_mean_st", "f0_std_st", "f0_p5_st", "f0_p95_st",
              "voiced_fraction", "active_seconds"]
    return tuple(names)


# The first judge's features (utterance functionals), then the second judge's (judges.py).
FUNCTIONAL_NAMES = _feature_names()
FEATURE_NAMES = FUNCTIONAL_NAMES + SHAPE_NAMES


def clip_features(audio: np.ndarray) -> np.ndarray:
    """Utterance-level acoustic functionals of one clip (the classifier's input), the same at
    any playback gain.

    The clip is first brought to one speech level (FEATURE_LEVEL_DB, `at_speech_level`), so no
    feature reads the absolute level; the loudness contour stays (energy spread, peak and 10th
    percentile relative to the mean). Statistics over the clip's active frames (within TRIM_DB
    of the loudest): MFCC 0-19 mean and std, delta-MFCC std, spectral centroid/bandwidth/
    roll-off/flatness and zero-crossing rate mean and std, spectral contrast means, energy
    (dB: std, max and 10th percentile re the mean), pYIN F0 (Hz mean/std; semitones re
    100 Hz mean/std/5th/95th percentile), voiced fraction and active duration (s). Spectral
    features use `floored_magnitude`.

    Args:
        audio: mono float32 at SAMPLE_RATE, at least N_FFT samples.
    Returns:
        float32 (len(FEATURE_NAMES),); unvoiced clips get F0 entries of 0.
    """
    import librosa

    audio = at_speech_level(audio, level_db=FEATURE_LEVEL_DB)
    magnitude = floored_magnitude(audio)
    energy = frame_energy_db(audio)
    frames = min(magnitude.shape[1], energy.shape[0])
    active = active_frames(energy[:frames])
    if active.sum() < 2:
        active[:] = True
    power = magnitude[:, :frames] ** 2
    mel = librosa.feature.melspectrogram(S=power, sr=SAMPLE_RATE, n_mels=40)
    mfcc = librosa.feature.mfcc(S=librosa.power_to_db(mel, top_db=TOP_DB), n_mfcc=20)
    # The delta window must be odd and no longer than the clip (9 frames = 144 ms at most).
    width = min(9, frames if frames % 2 else frames - 1)
    delta = librosa.feature.delta(mfcc, width=width, mode="nearest") if width >= 3 \
        else np.zeros_like(mfcc)
    spec = magnitude[:, :frames]
    # Frequencies in kHz keep every feature of similar size for the regularised classifier.
    spectral = [librosa.feature.spectral_centroid(S=spec, sr=SAMPLE_RATE)[0] / 1000.0,
                librosa.feature.spectral_bandwidth(S=spec, sr=SAMPLE_RATE)[0] / 1000.0,
                librosa.feature.spectral_rolloff(S=spec, sr=SAMPLE_RATE)[0] / 1000.0,
                librosa.feature.spectral_flatness(S=spec)[0],
                librosa.feature.zero_crossing_rate(audio, frame_length=N_FFT,
                                                   hop_length=HOP_LENGTH)[0][:frames]]
    contrast = librosa.feature.spectral_contrast(S=spec, sr=SAMPLE_RATE, fmin=100.0)
    f0 = f0_contour(audio)[:frames]
    voiced = np.isfinite(f0) & active[:f0.shape[0]]
    values: list[float] = []
    values += list(mfcc[:, active].mean(axis=1)) + list(mfcc[:, active].std(axis=1))
    values += list(delta[:, active].std(axis=1))
    for series in spectral:
        values += [float(series[active].mean()), float(series[active].std())]
    values += list(contrast[:, active].mean(axis=1))
    loud = energy[:frames][active]
    values += [loud.std(), loud.max() - loud.mean(), np.percentile(loud, 10) - loud.mean()]
    if voiced.sum() >= 2:
        hz = f0[voiced]
        semitones = 12.0 * np.log2(hz / 100.0)
        values += [hz.mean(), hz.std(), semitones.mean(), semitones.std(),
                   np.percentile(semitones, 5), np.percentile(semitones, 95)]
    else:
        values += [0.0] * 6
    values += [voiced.sum() / max(active.sum(), 1), active.sum() * HOP_LENGTH / SAMPLE_RATE]
    shape_mel = librosa.power_to_db(librosa.feature.melspectrogram(
        S=power, sr=SAMPLE_RATE, n_mels=SHAPE_BANDS), top_db=TOP_DB)
    band_hz = librosa.mel_frequencies(n_mels=SHAPE_BANDS + 2, fmax=SAMPLE_RATE / 2)[1:-1]
    values += list(shape_features(shape_mel, band_hz, active, f0, energy[:frames]))
    features = np.asarray(values, dtype=np.float32)
    assert features.shape == (len(FEATURE_NAMES),)
    return np.nan_to_num(features, nan=0.0, posinf=0.0, neginf=0.0)


def prosody_from_features(features: np.ndarray) -> dict[str, float]:
    """The prosody figures of a `clip_features` vector: F0 mean/spread (Hz), voiced fraction.
    (The features hold no absolute level; `speech_level_db` gives a clip's.)"""
    index = {name: i for i, name in enumerate(FEATURE_NAMES)}
    return {name: float(features[index[name]])
            for name in ("f0_mean_hz", "f0_std_hz", "voiced_fraction")}


def audio_key(audio: np.ndarray) -> str:
    """Fingerprint of decoded audio: blake2b of its float32 samples (cache key)."""
    return hashlib.blake2b(np.ascontiguousarray(audio, dtype=np.float32).tobytes(),
                           digest_size=16).hexdigest()


# --- Optional offline speech recogniser -----------------------------------------------------
class SentenceRecogniser:
    """pocketsphinx (English model shipped in its wheel), twice: restricted to the sentence
    grammar of the clip's corpus (`recognised(audio, sentence)`: is the exact sentence decoded
    among the corpus's sentences?) and with its general English language model
    (`word_error_rate(audio, sentence)`: open vocabulary, so a clip that lost its words cannot
    hide behind a small grammar). `sentence`: a RAVDESS statement number or the text."""

    def __init__(self) -> None:
        from pocketsphinx import Decoder  # optional dependency; see `load_recogniser`

        self._decoder = Decoder(samprate=SAMPLE_RATE, loglevel="FATAL")
        self._decoder.add_jsgf_string("ravdess", SENTENCE_GRAMMAR)
        self._decoder.add_jsgf_string("crema", CREMA_GRAMMAR)
        self._decoder.activate_search("ravdess")
        self._open_decoder = Decoder(samprate=SAMPLE_RATE, loglevel="FATAL")
        from importlib.metadata import version

        level = f"speech brought to {RECOGNISER_LEVEL_DB:g} dB FS first"
        self.description = (f"pocketsphinx {version('pocketsphinx')}, en-us model, grammar of "
                            f"the corpus's sentences (RAVDESS 2, CREMA-D 12), {level}")
        self.open_description = (f"pocketsphinx {version('pocketsphinx')}, en-us acoustic and "
                                 f"general language model (open vocabulary), {level}")

    @staticmethod
    def _decode(decoder: Any, audio: np.ndarray) -> str:
        audio = np.asarray(audio, dtype=np.float32)
        peak = float(np.max(np.abs(audio))) if audio.size else 0.0
        if peak > 0:
            # To RECOGNISER_LEVEL_DB, unless that would clip: then as loud as fits.
            gain = min(10.0 ** ((RECOGNISER_LEVEL_DB - speech_level_db(audio)) / 20.0),
                       0.99 / peak)
            audio = audio * np.float32(gain)
        pcm = (np.clip(audio, -1.0, 1.0) * 32767.0)
        decoder.start_utt()
        decoder.process_raw(pcm.astype("<i2").tobytes(), full_utt=True)
        decoder.end_utt()
        hypothesis = decoder.hyp()
        return hypothesis.hypstr.strip() if hypothesis is not None else ""

    def transcribe(self, audio: np.ndarray, *, grammar: str = "ravdess") -> str:
        """Transcript of mono float audio constrained to one corpus's sentence grammar
        ('ravdess' or 'crema'; '' when none is found)."""
        if grammar not in ("ravdess", "crema"):
            raise ValueError(f"grammar must be 'ravdess' or 'crema', got {grammar!r}")
        self._decoder.activate_search(grammar)
        return self._decode(self._decoder, audio)

    def transcribe_open(self, audio: np.ndarray) -> str:
        """Open-vocabulary transcript of mono float audio ('' when none is found)."""
        return self._decode(self._open_decoder, audio)

    def recognised(self, audio: np.ndarray, sentence: int | str) -> bool:
        """True when the transcript under the grammar of the sentence's corpus is exactly
        `sentence` (a RAVDESS statement number or a sentence's text)."""
        text = sentence_text(sentence)
        grammar = "ravdess" if text in STATEMENTS else "crema"
        return self.transcribe(audio, grammar=grammar) == text.lower()

    def word_error_rate(self, audio: np.ndarray, sentence: int | str) -> float:
        """Open-vocabulary word error rate against `sentence` (a RAVDESS statement number or
        the text; >= 0)."""
        return word_error_rate(sentence_text(sentence), self.transcribe_open(audio))


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words, by word-level edit
    distance, case-insensitive; 0 for an exact match, 1 for an empty hypothesis, and more
    than 1 when the hypothesis adds words. `reference` must hold at least one word."""
    ref, hyp = reference.lower().split(), hypothesis.lower().split()
    if not ref:
        raise ValueError("reference must hold at least one word")
    previous = list(range(len(hyp) + 1))
    for i, word in enumerate(ref, 1):
        current = [i]
        for j, heard in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (word != heard)))
        previous = current
    return previous[-1] / len(ref)


def envelope_correlation(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Pearson correlation of two clips' frame energy envelopes (dB, frame_energy_db), over
    the frames both have: near 1 when `estimate` keeps the timing of `reference`'s syllables
    and pauses, near 0 for unrelated speech. NaN when either envelope is constant."""
    first, second = frame_energy_db(reference), frame_energy_db(estimate)
    n = min(len(first), len(second))
    first, second = first[:n], second[:n]
    if n < 2 or np.std(first) == 0 or np.std(second) == 0:
        return float("nan")
    return float(np.corrcoef(first, second)[0, 1])


def load_recogniser() -> SentenceRecogniser | None:
    """The optional recogniser, or None when pocketsphinx is not installed."""
    try:
        return SentenceRecogniser()
    except ImportError:
        return None


# --- Feature cache --------------------------------------------------------------------------
class FeatureCache:
    """Feature vectors and recogniser results keyed by `audio_key`, stored in one npz.

    Entries of another FEATURE_VERSION or feature length are ignored (recomputed). `save`
    writes atomically and only when something was added.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.features: dict[str, np.ndarray] = {}
        self.recognised: dict[str, bool] = {}
        self.word_errors: dict[str, float] = {}
        self.naturalness: dict[str, float] = {}
        self._dirty = False
        if self.path.is_file():
            try:
                with np.load(self.path, allow_pickle=False) as data:
                    if int(data["version"]) == FEATURE_VERSION \
                            and data["features"].shape[1:] == (len(FEATURE_NAMES),):
                        self.features = dict(zip(data["keys"].tolist(), data["features"]))
                        self.recognised = dict(zip(data["asr_keys"].tolist(),
                                                   data["asr_ok"].tolist()))
                        if "wer_keys" in data.files:  # caches before the open-vocabulary WER
                            self.word_errors = dict(zip(data["wer_keys"].tolist(),
                                                        data["wer"].tolist()))
                        if "mos_keys" in data.files:  # caches before the naturalness score
                            self.naturalness = dict(zip(data["mos_keys"].tolist(),
                                                        data["mos"].tolist()))
            except Exception:  # a broken cache is only a cache: start again
                self.features, self.recognised, self.word_errors = {}, {}, {}
                self.naturalness = {}

    def add_features(self, key: str, features: np.ndarray) -> None:
        self.features[key] = np.asarray(features, dtype=np.float32)
        self._dirty = True

    def add_recognised(self, key: str, ok: bool) -> None:
        self.recognised[key] = bool(ok)
        self._dirty = True

    def add_word_error(self, key: str, rate: float) -> None:
        self.word_errors[key] = float(rate)
        self._dirty = True

    def add_naturalness(self, key: str, score: float) -> None:
        self.naturalness[key] = float(score)
        self._dirty = True

    def save(self) -> None:
        if not self._dirty:
            return
        keys = sorted(self.features)
        asr_keys = sorted(self.recognised)
        wer_keys = sorted(self.word_errors)
        mos_keys = sorted(self.naturalness)
        with atomic_output(self.path) as tmp:
            with open(tmp, "wb") as handle:
                np.savez(handle, version=np.array(FEATURE_VERSION),
                         keys=np.array(keys, dtype=str),
                         features=np.stack([self.features[k] for k in keys]) if keys
                         else np.zeros((0, len(FEATURE_NAMES)), np.float32),
                         asr_keys=np.array(asr_keys, dtype=str),
                         asr_ok=np.array([self.recognised[k] for k in asr_keys], dtype=bool),
                         wer_keys=np.array(wer_keys, dtype=str),
                         wer=np.array([self.word_errors[k] for k in wer_keys],
                                      dtype=np.float64),
                         mos_keys=np.array(mos_keys, dtype=str),
                         mos=np.array([self.naturalness[k] for k in mos_keys],
                                      dtype=np.float64))
        self._dirty = False


def _load_and_describe(path: str) -> tuple[str, np.ndarray]:
    """Worker: (audio_key, clip_features) of one file (runs in a process pool)."""
    audio = load_audio(path)
    return audio_key(audio), clip_features(audio)


def features_of_files(paths: Sequence[Path], cache: FeatureCache, *, jobs: int = 1,
                      progress: Callable[[int], None] | None = None) -> np.ndarray:
    """`clip_features` of every file, from the cache where present, float32 (N, D).

    The key is the hash of the decoded samples, so a changed file is recomputed. `jobs` > 1
    computes missing features in that many processes.
    """
    results: dict[Path, np.ndarray] = {}
    missing: list[Path] = []
    for path in paths:
        key = audio_key(load_audio(path))
        if key in cache.features:
            results[path] = cache.features[key]
            if progress:
                progress(1)
        else:
            missing.append(path)
    for path, (key, vector) in zip(missing, map_in_processes(
            _load_and_describe, [str(p) for p in missing], jobs=jobs)):
        cache.add_features(key, vector)
        results[path] = vector
        if progress:
            progress(1)
    return np.stack([results[p] for p in paths]) if paths else \
        np.zeros((0, len(FEATURE_NAMES)), np.float32)


def features_of_audio(audio: np.ndarray, cache: FeatureCache) -> np.ndarray:
    """`clip_features` of in-memory audio, through the cache."""
    key = audio_key(audio)
    if key not in cache.features:
        cache.add_features(key, clip_features(audio))
    return cache.features[key]
