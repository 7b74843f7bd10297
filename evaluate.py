"""Objective evaluation of SpectroGAN conversions on speakers the model never saw.

For each emotion pair (e.g. calm2anger) the held-out actors' source-emotion clips are
converted and scored beside four systems that need no model (the rows of the table):

    source           the real, unconverted source clip (the "zero effort" system)
    vocoder only     the source clip through convert.py's spectrogram image + Griffin-Lim path
                     with no generator: what the representation and the vocoder alone do
    converted        the source clip through the pair's generator (convert.convert_audio)
    target resynth   the real target clip through the image + Griffin-Lim path: the best a
                     converter could score with this vocoder (the resynthesis ceiling)
    target           the real target-emotion clip of the same actor, sentence, intensity and
                     repetition

Metrics (the columns):

1. Emotion: share of clips an emotion classifier judges as the target emotion (argmax over
   all 8 RAVDESS emotions, so "sounds neutral" or "sounds sad" counts as a miss), and share
   where it rates the target above the source emotion. The classifier (utterance-level
   acoustic functionals -> StandardScaler -> multinomial logistic regression, scikit-learn;
   C=0.1 picked by 4-fold actor-grouped cross-validation on the training actors) is trained
   on all 8 emotions of every actor except the held-out ones, so it never heard the
   evaluation speakers either; its accuracy on the held-out actors' real clips (and the
   source-vs-target accuracy) is printed and tabled first. Its spectral features see the
   STFT magnitude floored 80 dB below the peak, as the model's images do, so it judges the
   voice rather than the representation's noise floor.
2. Closeness to the real target: mel-cepstral distortion (MCD, dB) after dynamic time warping
   between the clip and the same actor's same sentence in the target emotion. Mel-cepstrum:
   frequency-warped cepstrum (all-pass warping alpha=0.42, the usual value for 16 kHz) of the
   project's STFT log amplitude (floored 80 dB below the peak), coefficients 1..24 (c0, the
   level, excluded), MCD = 10*sqrt(2)/ln(10) * ||c - c'|| per aligned frame, averaged along
   the DTW path; leading and trailing silence (40 dB below the peak) trimmed first.
3. Prosody: F0 mean and spread (pYIN, 60-600 Hz, voiced frames) and energy (mean frame RMS,
   dB full scale, over frames within 40 dB of the peak).
4. Content kept: MCD to the source clip, and -- when the optional pocketsphinx package is
   installed (it ships its English model inside the wheel, so it runs offline) -- the share of
   clips whose sentence a recogniser restricted to the RAVDESS sentence grammar
   "(kids | dogs) are (talking | sitting) by the door" decodes exactly (chance: 25%), and the
   word error rate of the same recogniser with its general English language model (open
   vocabulary: both sentences end "by the door", so the grammar alone is a weak test); and,
   for the systems made from the source clip, the correlation of their frame energy envelope
   with the source's (a converter that made up speech would lose it).

Writes <out>/metrics.json (merged: evaluating one pair replaces only that pair's entry) and
<out>/metrics.md (the tables of every pair in metrics.json). Features of real clips are cached
in <out>/.cache/eval_features.npz, keyed by a hash of the decoded audio samples, so repeated
runs skip the slow pYIN pass. Build the results page afterwards with make_results_page.py.

Choosing the epoch to ship (--select-epoch): every snapshot a training run kept
(<models>/<pair>/snapshots/epoch_NNNN/, train_cyclegan.py --snapshot-every) is scored the same
way on the run's validation actors (config.json val_actors), with the classifier trained on
actors in neither the validation nor the test set. The winner is the highest judged-target
share among the epochs whose MCD to the real target is at most 1 dB above the zero-effort
(unconverted) MCD on the same clips -- a guard against noise the classifier happens to call
angry; ties go to the lower MCD; when no epoch passes the guard the highest share wins anyway,
and both stdout and selection.json say so. The figures go to <models>/<pair>/selection.json and
selection.md, and the winner is installed as the pair's model: its snapshot's generator file
copied over <models>/<pair>/generator_AtoB.weights.h5 and config.json rewritten with "epoch"
and "selected_on". The run folder's generator is replaced only when a snapshot holds the same
weights (the trainer snapshots the last epoch), unless --force. The test actors are left for
the final report: run `python evaluate.py --all` afterwards.

Usage:
    python evaluate.py --pair calm2anger
    python evaluate.py --all --models results/ --ravdess ../shared/data/ravdess
    python evaluate.py --all --baselines-only          # no trained model needed
    python evaluate.py --pair calm2sad --limit 8 --jobs 2
    python evaluate.py --pair calm2anger --select-epoch    # choose, record, install an epoch
    python evaluate.py --all --select-epoch --models results/ && python evaluate.py --all
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import hashlib
import json
import math
import multiprocessing
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

# data_prep's argument parsers for pairs and actor lists, reused so every script reads the
# same spellings the same way.
from data_prep import (ALL_PAIRS, DEFAULT_PAIRS, DEFAULT_TEST_ACTORS, DEFAULT_VAL_ACTORS,
                       EMOTIONS, STATEMENTS, RavdessFile, _actors_arg, _pair_arg, parse_pair,
                       scan_ravdess)
from runs import CONFIG_NAME, SELECTION_JSON, SELECTION_MD, SNAPSHOTS_DIR
from spectro import (GRIFFIN_LIM_ITERS, HOP_LENGTH, N_FFT, SAMPLE_RATE, TOP_DB, UserError,
                     atomic_output, cli_main, load_audio, stft)

# --- Metric settings ------------------------------------------------------------------------
MCEP_ORDER = 24  # mel-cepstral coefficients 1..24 enter the distortion (c0 = level excluded)
MCEP_ALPHA = 0.42  # all-pass frequency warping that approximates the mel scale at 16 kHz
MCD_CONSTANT = 10.0 * math.sqrt(2.0) / math.log(10.0)  # cepstral distance (nepers) -> dB
TRIM_DB = 40.0  # leading/trailing frames this far below the clip's peak are silence
F0_MIN, F0_MAX = 60.0, 600.0  # pYIN search range (Hz): low male to high female shouting
PYIN_FRAME = 1024  # pYIN frame (64 ms at 16 kHz): holds two periods of F0_MIN
FEATURE_VERSION = 3  # bump when clip_features changes, so cached vectors are recomputed
SENTENCE_GRAMMAR = ("#JSGF V1.0;\ngrammar ravdess;\n"
                    "public <sentence> = (kids | dogs) are (talking | sitting) by the door;\n")
SYSTEMS = ("source", "vocoder", "converted", "target_resynth", "target")
# Systems made from the source clip itself, frame for frame: their energy envelope is
# compared with the source's (the real target is another take, with other timing).
FROM_SOURCE = ("source", "vocoder", "converted")
SYSTEM_LABELS = {
    "source": "source (real {source}, zero effort)",
    "vocoder": "vocoder only ({source} → image → Griffin-Lim)",
    "converted": "converted ({source} → {target} model)",
    "target_resynth": "target resynthesised (ceiling)",
    "target": "target (real {target})",
}
METRICS_VERSION = 1


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
                            sr=SAMPLE_RATE, frame_length=PYIN_FRAME, hop_length=HOP_LENGTH)
    return np.asarray(f0, dtype=np.float64)


def frame_energy_db(audio: np.ndarray) -> np.ndarray:
    """Frame RMS in dB full scale (a full-scale sine is -3 dB), float64 (T,), on the STFT
    frames of the project (N_FFT window, HOP_LENGTH hop)."""
    import librosa

    rms = librosa.feature.rms(y=np.asarray(audio, dtype=np.float32), frame_length=N_FFT,
                              hop_length=HOP_LENGTH, center=True, pad_mode="constant")[0]
    return 20.0 * np.log10(np.maximum(rms.astype(np.float64), 1e-10))


def active_frames(energy_db: np.ndarray, *, top_db: float = TRIM_DB) -> np.ndarray:
    """Boolean mask of the frames within `top_db` of the loudest (speech, not silence).

    The frame energies are median-filtered over 5 frames (80 ms) first, so an isolated click
    (e.g. one bad sample at the end of a Griffin-Lim output) neither counts as speech nor
    sets the reference level.
    """
    from scipy.ndimage import median_filter

    energy_db = np.asarray(energy_db, dtype=np.float64)
    # Pad with the quietest level: a click in the last two frames must not fill the window.
    smooth = median_filter(energy_db, size=min(5, energy_db.shape[0]), mode="constant",
                           cval=float(energy_db.min()))
    return smooth >= smooth.max() - top_db


# --- Utterance features for the emotion classifier ------------------------------------------
def _feature_names() -> tuple[str, ...]:
    names = [f"mfcc{i}_{stat}" for stat in ("mean", "std") for i in range(20)]
    names += [f"dmfcc{i}_std" for i in range(20)]
    names += [f"{name}_{stat}" for name in ("centroid", "bandwidth", "rolloff", "flatness",
                                             "zcr") for stat in ("mean", "std")]
    names += [f"contrast{i}_mean" for i in range(7)]
    names += ["energy_db", "energy_std", "energy_max", "energy_p10"]
    # (A frame-to-frame F0 slope was tried and dropped: pYIN's small steps change with the
    # slightest resynthesis, so it judged the vocoder rather than the voice.)
    names += ["f0_mean_hz", "f0_std_hz", "f0_mean_st", "f0_std_st", "f0_p5_st", "f0_p95_st",
              "voiced_fraction", "active_seconds"]
    return tuple(names)


FEATURE_NAMES = _feature_names()


def clip_features(audio: np.ndarray) -> np.ndarray:
    """Utterance-level acoustic functionals of one clip (the classifier's input).

    Statistics over the clip's active frames (within TRIM_DB of the loudest): MFCC 0-19 mean
    and std, delta-MFCC std, spectral centroid/bandwidth/roll-off/flatness and zero-crossing
    rate mean and std, spectral contrast means, energy (dB FS: mean, std, max, 10th
    percentile), pYIN F0 (Hz mean/std; semitones re 100 Hz mean/std/5th/95th percentile),
    voiced fraction and active duration (s). Spectral features use `floored_magnitude`.

    Args:
        audio: mono float32 at SAMPLE_RATE, at least N_FFT samples.
    Returns:
        float32 (len(FEATURE_NAMES),); unvoiced clips get F0 entries of 0.
    """
    import librosa

    audio = np.asarray(audio, dtype=np.float32)
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
    values += [loud.mean(), loud.std(), loud.max(), np.percentile(loud, 10)]
    if voiced.sum() >= 2:
        hz = f0[voiced]
        semitones = 12.0 * np.log2(hz / 100.0)
        values += [hz.mean(), hz.std(), semitones.mean(), semitones.std(),
                   np.percentile(semitones, 5), np.percentile(semitones, 95)]
    else:
        values += [0.0] * 6
    values += [voiced.sum() / max(active.sum(), 1), active.sum() * HOP_LENGTH / SAMPLE_RATE]
    features = np.asarray(values, dtype=np.float32)
    assert features.shape == (len(FEATURE_NAMES),)
    return np.nan_to_num(features, nan=0.0, posinf=0.0, neginf=0.0)


def prosody_from_features(features: np.ndarray) -> dict[str, float]:
    """The prosody figures of a `clip_features` vector: F0 mean/spread (Hz), voiced fraction,
    energy (dB FS mean over active frames)."""
    index = {name: i for i, name in enumerate(FEATURE_NAMES)}
    return {name: float(features[index[name]])
            for name in ("f0_mean_hz", "f0_std_hz", "voiced_fraction", "energy_db")}


def audio_key(audio: np.ndarray) -> str:
    """Fingerprint of decoded audio: blake2b of its float32 samples (cache key)."""
    return hashlib.blake2b(np.ascontiguousarray(audio, dtype=np.float32).tobytes(),
                           digest_size=16).hexdigest()


# --- The emotion classifier -----------------------------------------------------------------
def train_emotion_classifier(features: np.ndarray, labels: Sequence[str], *, c: float = 0.1
                             ) -> Any:
    """Fit StandardScaler + multinomial LogisticRegression on clip feature vectors.

    Args:
        features: float (N, D) `clip_features` rows; labels: N emotion names (>= 2 distinct).
        c: inverse L2 regularisation strength (small: few speakers, many correlated features).
    Returns:
        a fitted scikit-learn Pipeline with `predict_proba` and `classes_` (sorted names).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    labels = np.asarray(labels)
    if len(set(labels.tolist())) < 2:
        raise ValueError("the emotion classifier needs clips of at least two emotions")
    model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000))
    model.fit(np.asarray(features, dtype=np.float64), labels)
    return model


def class_probabilities(model: Any, features: np.ndarray) -> dict[str, np.ndarray]:
    """Per-emotion probabilities (N,) of each row of `features`, keyed by emotion name."""
    probabilities = model.predict_proba(np.atleast_2d(np.asarray(features, dtype=np.float64)))
    return {str(name): probabilities[:, i] for i, name in enumerate(model.classes_)}


def judged_shares(model: Any, features: np.ndarray, *, source: str, target: str
                  ) -> dict[str, float]:
    """Share of clips judged as `target`: by the full argmax, and target-over-source.

    Returns {"judged_target": fraction whose most probable emotion is `target`,
    "target_over_source": fraction with p(target) > p(source)}.
    """
    probabilities = class_probabilities(model, features)
    names = list(probabilities)
    stacked = np.stack([probabilities[name] for name in names], axis=1)
    winners = np.asarray(names)[stacked.argmax(axis=1)]
    return {"judged_target": float(np.mean(winners == target)),
            "target_over_source": float(np.mean(probabilities[target] > probabilities[source]))}


# --- Optional offline speech recogniser -----------------------------------------------------
class SentenceRecogniser:
    """pocketsphinx (English model shipped in its wheel), twice: restricted to the RAVDESS
    sentence grammar (`recognised(audio, statement)`: is the exact sentence decoded?) and with
    its general English language model (`word_error_rate(audio, statement)`: open vocabulary,
    so a clip that lost its words cannot hide behind a two-sentence grammar)."""

    def __init__(self) -> None:
        from pocketsphinx import Decoder  # optional dependency; see `load_recogniser`

        self._decoder = Decoder(samprate=SAMPLE_RATE, loglevel="FATAL")
        self._decoder.add_jsgf_string("ravdess", SENTENCE_GRAMMAR)
        self._decoder.activate_search("ravdess")
        self._open_decoder = Decoder(samprate=SAMPLE_RATE, loglevel="FATAL")
        from importlib.metadata import version

        self.description = (f"pocketsphinx {version('pocketsphinx')}, en-us model, grammar of "
                            "the two RAVDESS sentences")
        self.open_description = (f"pocketsphinx {version('pocketsphinx')}, en-us acoustic and "
                                 "general language model (open vocabulary)")

    @staticmethod
    def _decode(decoder: Any, audio: np.ndarray) -> str:
        pcm = (np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0) * 32767.0)
        decoder.start_utt()
        decoder.process_raw(pcm.astype("<i2").tobytes(), full_utt=True)
        decoder.end_utt()
        hypothesis = decoder.hyp()
        return hypothesis.hypstr.strip() if hypothesis is not None else ""

    def transcribe(self, audio: np.ndarray) -> str:
        """Grammar-constrained transcript of mono float audio ('' when none is found)."""
        return self._decode(self._decoder, audio)

    def transcribe_open(self, audio: np.ndarray) -> str:
        """Open-vocabulary transcript of mono float audio ('' when none is found)."""
        return self._decode(self._open_decoder, audio)

    def recognised(self, audio: np.ndarray, statement: int) -> bool:
        """True when the transcript is exactly RAVDESS statement `statement` (1 or 2)."""
        return self.transcribe(audio) == STATEMENTS[statement - 1].lower()

    def word_error_rate(self, audio: np.ndarray, statement: int) -> float:
        """Open-vocabulary word error rate against RAVDESS statement `statement` (>= 0)."""
        return word_error_rate(STATEMENTS[statement - 1], self.transcribe_open(audio))


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
            except Exception:  # a broken cache is only a cache: start again
                self.features, self.recognised, self.word_errors = {}, {}, {}

    def add_features(self, key: str, features: np.ndarray) -> None:
        self.features[key] = np.asarray(features, dtype=np.float32)
        self._dirty = True

    def add_recognised(self, key: str, ok: bool) -> None:
        self.recognised[key] = bool(ok)
        self._dirty = True

    def add_word_error(self, key: str, rate: float) -> None:
        self.word_errors[key] = float(rate)
        self._dirty = True

    def save(self) -> None:
        if not self._dirty:
            return
        keys = sorted(self.features)
        asr_keys = sorted(self.recognised)
        wer_keys = sorted(self.word_errors)
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
    if jobs > 1 and len(missing) > 1:
        # Fresh interpreters, not forks: forking a process that has loaded TensorFlow (a model
        # being evaluated) can deadlock; the workers need numpy and librosa only.
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(max_workers=jobs,
                                                    mp_context=context) as pool:
            for path, (key, vector) in zip(missing, pool.map(_load_and_describe,
                                                             [str(p) for p in missing])):
                cache.add_features(key, vector)
                results[path] = vector
                if progress:
                    progress(1)
    else:
        for path in missing:
            key, vector = _load_and_describe(str(path))
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


# --- The reference systems ------------------------------------------------------------------
class _Identity:
    """Stands in for a generator and returns its input, so convert.convert_audio runs the
    very same image + Griffin-Lim path with no model (the vocoder-only baselines)."""

    def predict_on_batch(self, batch: np.ndarray) -> np.ndarray:
        return np.asarray(batch, dtype=np.float32)

    __call__ = predict_on_batch


def resynthesise(audio: np.ndarray, *, n_iter: int = GRIFFIN_LIM_ITERS, phase: str = "source",
                 seed: int = 0) -> np.ndarray:
    """`audio` through convert.py's spectrogram image + Griffin-Lim path with no generator.

    Returns float32 audio of the input's length (what the representation and vocoder alone
    do to a clip).
    """
    from convert import convert_audio

    return convert_audio(audio, _Identity(), n_iter=n_iter, phase=phase, seed=seed)


def matching_target(files: Sequence[RavdessFile], clip: RavdessFile, target: str
                    ) -> RavdessFile | None:
    """The same actor's same sentence and repetition in `target` emotion, same intensity
    where it exists (neutral has normal intensity only), else None."""
    candidates = [f for f in files if f.actor == clip.actor and f.emotion == target
                  and f.statement == clip.statement and f.repetition == clip.repetition]
    candidates.sort(key=lambda f: f.intensity != clip.intensity)
    return candidates[0] if candidates else None


# --- Evaluating pairs -----------------------------------------------------------------------
@dataclass
class EvalSettings:
    """How clips are converted and how many are scored (stored with every pair's figures)."""

    n_iter: int = GRIFFIN_LIM_ITERS
    phase: str = "source"
    seed: int = 0
    batch_size: int = 8
    limit: int | None = None  # at most this many source clips per pair (None = all)
    jobs: int = 1  # processes for the classifier's feature pass


@dataclass
class _Classifier:
    model: Any
    report: dict[str, Any]
    test_features: np.ndarray
    test_labels: np.ndarray


@dataclass
class Evaluator:
    """Scores pairs on one RAVDESS copy; trains one emotion classifier per held-out set."""

    files: list[RavdessFile]
    root: Path
    cache: FeatureCache
    settings: EvalSettings = field(default_factory=EvalSettings)
    recogniser: SentenceRecogniser | None = None
    _classifiers: dict[tuple[int, ...], _Classifier] = field(default_factory=dict)

    def name(self, clip: RavdessFile) -> str:
        """A clip's path relative to the RAVDESS folder (how metrics.json names clips)."""
        return clip.path.relative_to(self.root).as_posix()

    def classifier(self, test_actors: Sequence[int], *, exclude_actors: Sequence[int] = ()
                   ) -> _Classifier:
        """Train (once per held-out set) and check the emotion classifier.

        Trained on every clip of every actor in neither `test_actors` nor `exclude_actors`
        (e.g. the test actors while choosing an epoch on the validation actors, so the
        classifier never heard either), all 8 emotions; scored on the `test_actors`' real
        clips (accuracy, chance = share of the commonest emotion, recall per emotion).
        """
        from tqdm import tqdm

        held_out = tuple(sorted(test_actors))
        excluded = tuple(sorted(set(exclude_actors) - set(held_out)))
        if (held_out, excluded) in self._classifiers:
            return self._classifiers[held_out, excluded]
        train = [f for f in self.files if f.actor not in held_out and f.actor not in excluded]
        test = [f for f in self.files if f.actor in held_out]
        if len({f.emotion for f in train}) < 2 or len({f.actor for f in train}) < 2:
            raise UserError(f"{self.root}: too few training actors besides the held-out "
                            f"{_actor_list(held_out + excluded)} to train the emotion "
                            "classifier; pass another --test-actors or a complete RAVDESS copy")
        with tqdm(total=len(train) + len(test), desc="classifier features", unit="clip",
                  disable=None) as bar:
            train_x = features_of_files([f.path for f in train], self.cache,
                                        jobs=self.settings.jobs, progress=bar.update)
            test_x = features_of_files([f.path for f in test], self.cache,
                                       jobs=self.settings.jobs, progress=bar.update)
        self.cache.save()
        model = train_emotion_classifier(train_x, [f.emotion for f in train])
        test_y = np.asarray([f.emotion for f in test])
        predicted = model.predict(test_x.astype(np.float64)) if len(test) else test_y
        counts = {e: int(np.sum(test_y == e)) for e in EMOTIONS if np.any(test_y == e)}
        report = {
            "method": "StandardScaler + multinomial LogisticRegression (C=0.1) on "
                      f"{len(FEATURE_NAMES)} utterance functionals (MFCC, spectral, energy, "
                      "pYIN F0)",
            "emotions": sorted({f.emotion for f in train}),
            "train_actors": sorted({f.actor for f in train}), "train_clips": len(train),
            "test_actors": list(held_out), "excluded_actors": list(excluded),
            "test_clips": len(test),
            "accuracy": float(np.mean(predicted == test_y)) if len(test) else None,
            "chance": max(counts.values()) / len(test) if len(test) else None,
            "recall": {e: float(np.mean(predicted[test_y == e] == e)) for e in counts},
        }
        self._classifiers[held_out, excluded] = _Classifier(model, report, test_x, test_y)
        return self._classifiers[held_out, excluded]

    def _content(self, audio: np.ndarray, statement: int) -> tuple[bool, float] | None:
        """(sentence recognised by the grammar decoder, open-vocabulary word error rate), from
        the cache when this audio was decoded before; None without a recogniser."""
        if self.recogniser is None:
            return None
        # Keyed by recogniser too: another recogniser (or version) must decode afresh.
        audio_id = audio_key(audio)
        grammar_key = f"{audio_id}|{self.recogniser.description}"
        open_key = f"{audio_id}|{statement}|{self.recogniser.open_description}"
        if grammar_key not in self.cache.recognised:
            self.cache.add_recognised(grammar_key,
                                      self.recogniser.recognised(audio, statement))
        if open_key not in self.cache.word_errors:
            self.cache.add_word_error(open_key,
                                      self.recogniser.word_error_rate(audio, statement))
        return self.cache.recognised[grammar_key], self.cache.word_errors[open_key]

    def evaluate_pair(self, pair: str, *, test_actors: Sequence[int], generator: Any = None,
                      model_dir: str | os.PathLike | None = None,
                      exclude_actors: Sequence[int] = (),
                      systems: Sequence[str] | None = None) -> dict[str, Any]:
        """Score one pair on the held-out actors' source clips.

        Args:
            pair: pair name, e.g. 'calm2anger'.
            test_actors: actors the model (and so the classifier) never saw.
            generator: the loaded source -> target generator, or None (baselines only: the
                converted row is left empty).
            model_dir: where the generator came from (recorded only).
            exclude_actors: actors the classifier must not train on either (see `classifier`).
            systems: the SYSTEMS rows to score (default: all; 'converted' only with a
                generator); the others are left None. Epoch selection scores the real clips
                once and then only 'converted' per snapshot.
        Returns:
            the pair's metrics.json entry: settings, classifier report, per-system means
            (`systems`: source, vocoder, converted (None without a model), target_resynth,
            target) and per-clip figures (`clips`).
        """
        from tqdm import tqdm

        pair, source, target = parse_pair(pair)
        actors = tuple(sorted(test_actors))
        classifier = self.classifier(actors, exclude_actors=exclude_actors)
        sources = [f for f in self.files if f.emotion == source and f.actor in actors]
        # Cycle through actors first, so --limit still samples every held-out speaker.
        sources.sort(key=lambda f: (f.statement, f.intensity, f.repetition, f.actor))
        pairs = [(clip, matching_target(self.files, clip, target)) for clip in sources]
        skipped = sum(1 for _, match in pairs if match is None)
        pairs = [(clip, match) for clip, match in pairs if match is not None]
        if self.settings.limit is not None:
            pairs = pairs[:self.settings.limit]
        if not pairs:
            raise UserError(f"{self.root}: no {source} clips with a matching {target} clip for "
                            f"held-out actors {_actor_list(actors)}; check --ravdess / "
                            "--test-actors")
        if systems is None:
            systems = [s for s in SYSTEMS if s != "converted" or generator is not None]
        elif not set(systems) <= set(SYSTEMS) or ("converted" in systems and generator is None):
            raise ValueError(f"systems must be a subset of {SYSTEMS} ('converted' only with a "
                             f"generator), got {systems}")
        systems = [s for s in SYSTEMS if s in systems]
        values: dict[str, dict[str, list[float]]] = {s: {} for s in systems}
        features: dict[str, list[np.ndarray]] = {s: [] for s in systems}
        clips = []
        s = self.settings
        for clip, match in tqdm(pairs, desc=pair, unit="clip", disable=None):
            audio = {"source": load_audio(clip.path), "target": load_audio(match.path)}
            if "vocoder" in systems:
                audio["vocoder"] = resynthesise(audio["source"], n_iter=s.n_iter,
                                                phase=s.phase, seed=s.seed)
            if "target_resynth" in systems:
                audio["target_resynth"] = resynthesise(audio["target"], n_iter=s.n_iter,
                                                       phase=s.phase, seed=s.seed)
            if "converted" in systems:
                from convert import convert_audio

                audio["converted"] = convert_audio(audio["source"], generator, n_iter=s.n_iter,
                                                   phase=s.phase, seed=s.seed,
                                                   batch_size=s.batch_size)
            record: dict[str, Any] = {"source": self.name(clip), "target": self.name(match),
                                      "mcd_to_target": {}, "mcd_to_source": {}, "judged": {}}
            # Symmetric, so computed once, and only when a real clip's row needs it.
            zero_effort = mcd_dtw(audio["target"], audio["source"]) \
                if {"source", "target"} & set(systems) else None
            for system in systems:
                vector = features_of_audio(audio[system], self.cache)
                features[system].append(vector)
                row = values[system]
                mcd_target = {"target": 0.0, "source": zero_effort}.get(system)
                if mcd_target is None:
                    mcd_target = mcd_dtw(audio["target"], audio[system])
                mcd_source = {"source": 0.0, "target": zero_effort}.get(system)
                if mcd_source is None:
                    mcd_source = mcd_dtw(audio["source"], audio[system])
                record["mcd_to_target"][system] = round(mcd_target, 3)
                record["mcd_to_source"][system] = round(mcd_source, 3)
                row.setdefault("mcd_to_target", []).append(mcd_target)
                row.setdefault("mcd_to_source", []).append(mcd_source)
                for name, value in prosody_from_features(vector).items():
                    row.setdefault(name, []).append(value)
                content = self._content(audio[system], clip.statement)
                if content is not None:
                    row.setdefault("recognised", []).append(float(content[0]))
                    row.setdefault("word_error_rate", []).append(content[1])
                if system in FROM_SOURCE:
                    row.setdefault("envelope_correlation", []).append(
                        envelope_correlation(audio["source"], audio[system]))
                probabilities = class_probabilities(classifier.model, vector)
                record["judged"][system] = max(probabilities, key=lambda e: probabilities[e][0])
            clips.append(record)
        self.cache.save()
        summary: dict[str, Any] = {system: None for system in SYSTEMS}
        for system in systems:
            row = values[system]
            shares = judged_shares(classifier.model, np.stack(features[system]), source=source,
                                   target=target)
            voiced = [v for v, f in zip(row["f0_mean_hz"], row["voiced_fraction"]) if f > 0]
            spreads = [v for v, f in zip(row["f0_std_hz"], row["voiced_fraction"]) if f > 0]
            summary[system] = {
                **shares,
                "mcd_to_target": float(np.mean(row["mcd_to_target"])),
                "mcd_to_target_std": float(np.std(row["mcd_to_target"])),
                "mcd_to_source": float(np.mean(row["mcd_to_source"])),
                "mcd_to_source_std": float(np.std(row["mcd_to_source"])),
                "f0_mean_hz": float(np.mean(voiced)) if voiced else None,
                "f0_std_hz": float(np.mean(spreads)) if spreads else None,
                "voiced_fraction": float(np.mean(row["voiced_fraction"])),
                "energy_db": float(np.mean(row["energy_db"])),
                "recognised": float(np.mean(row["recognised"])) if "recognised" in row else None,
                "word_error_rate": (float(np.mean(row["word_error_rate"]))
                                    if "word_error_rate" in row else None),
                "envelope_correlation": (float(np.nanmean(row["envelope_correlation"]))
                                         if "envelope_correlation" in row else None),
            }
        return {
            "pair": pair, "source": source, "target": target, "test_actors": list(actors),
            "model": str(model_dir) if model_dir is not None else None,
            "n_clips": len(pairs), "skipped_no_match": skipped,
            "settings": {"griffin_lim_iters": s.n_iter, "phase": s.phase, "seed": s.seed,
                         "limit": s.limit, "mcep_order": MCEP_ORDER, "mcep_alpha": MCEP_ALPHA,
                         "trim_db": TRIM_DB, "f0_range_hz": [F0_MIN, F0_MAX],
                         "feature_version": FEATURE_VERSION},
            "classifier": {**classifier.report,
                           "source_vs_target": _pairwise_accuracy(classifier, source, target)},
            "recogniser": self.recogniser.description if self.recogniser else None,
            "open_recogniser": self.recogniser.open_description if self.recogniser else None,
            "systems": summary, "clips": clips,
            "evaluated": datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="seconds"),
        }


def _pairwise_accuracy(classifier: _Classifier, source: str, target: str) -> float | None:
    """Accuracy of 'p(target) > p(source)' on the held-out real clips of the two emotions."""
    mask = np.isin(classifier.test_labels, [source, target])
    if not mask.any():
        return None
    probabilities = class_probabilities(classifier.model, classifier.test_features[mask])
    says_target = probabilities[target] > probabilities[source]
    return float(np.mean(says_target == (classifier.test_labels[mask] == target)))


def _actor_list(actors: Sequence[int]) -> str:
    return ", ".join(str(a) for a in actors)


# --- metrics.json and the markdown tables ---------------------------------------------------
MARKER = "<!-- generated by {script}: edits here are overwritten -->"


def read_metrics(path: str | os.PathLike) -> dict[str, Any]:
    """metrics.json as a dict ({'version', 'pairs': {...}}); an empty one when missing.

    Raises UserError when the file exists but is not a SpectroGAN metrics file.
    """
    path = Path(path)
    if not path.exists():
        return {"version": METRICS_VERSION, "pairs": {}}
    try:
        metrics = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: not a readable metrics file ({exc}); move it away or choose "
                        "another --out") from None
    if not isinstance(metrics, dict) or not isinstance(metrics.get("pairs"), dict):
        raise UserError(f"{path}: not a SpectroGAN metrics file (no 'pairs'); move it away or "
                        "choose another --out")
    return metrics


def write_metrics(path: str | os.PathLike, metrics: dict[str, Any]) -> Path:
    """Write metrics.json atomically (pairs sorted, 2-space indent)."""
    path = Path(path)
    metrics = {**metrics, "version": METRICS_VERSION,
               "pairs": dict(sorted(metrics["pairs"].items()))}
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(metrics, indent=2) + "\n")
    return path


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100.0 * value:.0f}%"


def _number(value: float | None, digits: int = 0, spread: float | None = None) -> str:
    if value is None:
        return "n/a"
    text = f"{value:.{digits}f}"
    return text if spread is None else f"{text} ± {spread:.{digits}f}"


def pair_table(entry: dict[str, Any]) -> str:
    """Markdown section of one pair: held-out set, classifier check, and the system table."""
    source, target = entry["source"], entry["target"]
    classifier = entry["classifier"]
    model = entry.get("model")
    lines = [f"### {entry['pair']} ({source} → {target})", ""]
    lines.append(f"Held-out actors {_actor_list(entry['test_actors'])} (never seen by the model "
                 f"or the classifier), {entry['n_clips']} {source} clips, each scored against "
                 f"the same actor's same sentence spoken {target}. Model: "
                 + (f"`{model}`." if model else "**no model trained yet** (baselines only)."))
    lines.append("")
    lines.append(f"Emotion classifier: {_percent(classifier.get('accuracy'))} right on the "
                 f"held-out actors' {classifier.get('test_clips')} real clips "
                 f"({len(classifier.get('emotions', []))} emotions, chance "
                 f"{_percent(classifier.get('chance'))}); {source} vs {target}: "
                 f"{_percent(classifier.get('source_vs_target'))}.")
    lines.append("")
    lines.append(f"| system | judged {target} | {target} over {source} | MCD to target (dB) "
                 "| MCD to source (dB) | F0 mean (Hz) | F0 spread (Hz) | voiced | energy (dB FS) "
                 "| sentence recognised | word error (open) | envelope corr. |")
    lines.append("|" + "---|" * 12)
    recogniser = entry.get("recogniser")
    for system in SYSTEMS:
        label = SYSTEM_LABELS[system].format(source=source, target=target)
        row = entry["systems"].get(system)
        if row is None:
            lines.append(f"| {label} | no model | | | | | | | | | | |")
            continue
        lines.append("| " + " | ".join([
            label, _percent(row["judged_target"]), _percent(row["target_over_source"]),
            _number(row["mcd_to_target"], 2, row["mcd_to_target_std"]),
            _number(row["mcd_to_source"], 2, row["mcd_to_source_std"]),
            _number(row["f0_mean_hz"]), _number(row["f0_std_hz"]),
            _percent(row["voiced_fraction"]), _number(row["energy_db"], 1),
            _percent(row["recognised"]), _number(row.get("word_error_rate"), 2),
            _number(row.get("envelope_correlation"), 2)]) + " |")
    settings = entry["settings"]
    lines.append("")
    lines.append(f"Griffin-Lim: {settings['griffin_lim_iters']} iterations from "
                 f"{settings['phase']} phase. Sentence recognition: "
                 + (f"{recogniser}." if recogniser else
                    "no recogniser installed (`pip install pocketsphinx`).")
                 + f" Evaluated {entry.get('evaluated', '?')}.")
    return "\n".join(lines)


METRICS_NOTES = """\
How to read the tables (details in evaluate.py's docstring):
* *judged target*: share of clips whose most probable emotion (classifier over every RAVDESS
  emotion, trained on the other actors' real recordings) is the target; *target over source*:
  share where it rates the target above the source emotion. Compare the converted row with the
  vocoder-only row (what the vocoder alone does) and the real target row (the best to hope for).
* *MCD*: mel-cepstral distortion after dynamic time warping, coefficients 1-24 (alpha 0.42),
  mean ± standard deviation over clips; lower is closer. Source row, *MCD to target*: the
  zero-effort figure; target resynthesised: the ceiling this vocoder allows.
* *F0* (pYIN, 60-600 Hz): mean over clips of each clip's voiced mean and standard deviation;
  *voiced*: share of speech frames with F0; *energy*: mean frame RMS over speech frames.
* *sentence recognised*: pocketsphinx restricted to the two RAVDESS sentences decodes the right
  one exactly (chance 25%); needs the optional `pip install pocketsphinx`.
* *word error (open)*: word error rate of pocketsphinx with its general English language model
  against the spoken sentence (open vocabulary; real clips are not at 0, the recogniser is
  small): compare each row with the vocoder-only row. *envelope corr.*: correlation of the
  frame energy envelope (dB) with the source clip's; a converter that kept the syllables and
  pauses stays near the vocoder-only row, one that made up speech falls towards 0."""


def metrics_markdown(metrics: dict[str, Any], *, heading: str = "## Objective evaluation"
                     ) -> str:
    """All pairs of a metrics dict as markdown: heading, one section per pair, the notes."""
    sections = [heading, ""]
    if not metrics["pairs"]:
        sections.append("No pair evaluated yet: run `python evaluate.py --all`.")
    for pair in sorted(metrics["pairs"]):
        sections += [pair_table(metrics["pairs"][pair]), ""]
    sections.append(METRICS_NOTES)
    return "\n".join(sections) + "\n"


def check_generated(path: Path, *, script: str, force: bool) -> None:
    """Refuse (UserError) to replace a file that `script` did not generate, unless `force`."""
    if path.exists() and not force:
        try:
            head = path.read_text(errors="replace")[:400]
        except OSError:
            head = ""
        if MARKER.format(script=script) not in head:
            raise UserError(f"{path}: exists and was not generated by {script}; pass --force to "
                            "replace it (or choose another --out)")


def write_generated(path: Path, text: str, *, script: str) -> Path:
    """Write a generated markdown file, marked so later runs may replace it, atomically."""
    with atomic_output(path) as tmp:
        tmp.write_text(MARKER.format(script=script) + "\n" + text)
    return path


# --- Epoch selection on validation actors ---------------------------------------------------
SELECTION_MARGIN_DB = 1.0  # the guard: at most this much worse MCD than zero effort
SELECTION_VERSION = 1
SELECTION_RULE = ("highest judged-target share on the validation actors among the epochs whose "
                  "MCD to the real target is at most {margin:g} dB above the zero-effort "
                  "(unconverted) MCD on the same clips; ties -> lower MCD, then the earlier "
                  "epoch; if no epoch passes that guard, the highest share anyway")


@dataclass(frozen=True)
class Snapshot:
    """One snapshot folder of a run: a complete model folder of the AtoB generator."""

    epoch: int
    path: Path


def find_snapshots(run_dir: str | os.PathLike) -> list[Snapshot]:
    """The complete snapshots `<run_dir>/snapshots/epoch_NNNN/` (config.json and
    generator_AtoB.weights.h5 both present), sorted by epoch; [] when there are none.

    A folder missing either file (a snapshot interrupted while being written) is left out.
    """
    import re

    from models import CONFIG_NAME, generator_path

    root = Path(run_dir) / SNAPSHOTS_DIR
    if not root.is_dir():
        return []
    found = []
    for folder in root.iterdir():
        match = re.fullmatch(r"epoch_(\d+)", folder.name)
        if match and (folder / CONFIG_NAME).is_file() and generator_path(folder).is_file():
            found.append(Snapshot(int(match.group(1)), folder))
    return sorted(found, key=lambda snapshot: snapshot.epoch)


def choose_epoch(rows: Sequence[dict[str, Any]], zero_effort_mcd: float, *,
                 margin_db: float = SELECTION_MARGIN_DB) -> dict[str, Any]:
    """Apply the selection rule (SELECTION_RULE) to per-epoch validation figures.

    Args:
        rows: one dict per epoch with "epoch" (int), "judged_target" (share in [0, 1]) and
            "mcd_to_target" (mean dB over the validation clips).
        zero_effort_mcd: mean MCD (dB) of the unconverted source clips to the same targets.
        margin_db: how much worse than zero effort an epoch's MCD may be and still count.
    Returns:
        {"epoch": the winner, "guard_held": whether any epoch passed the guard (False: the
        winner was picked by share among all epochs), "mcd_limit_db": zero effort + margin,
        "passing": the epochs within the guard, in the order given}.
    """
    if not rows:
        raise ValueError("choose_epoch needs at least one epoch's figures")
    limit = float(zero_effort_mcd) + float(margin_db)
    passing = [row for row in rows if row["mcd_to_target"] <= limit]
    best = min(passing or rows,
               key=lambda row: (-row["judged_target"], row["mcd_to_target"], row["epoch"]))
    return {"epoch": int(best["epoch"]), "guard_held": bool(passing), "mcd_limit_db": limit,
            "passing": [int(row["epoch"]) for row in passing]}


def _weight_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every dataset of an HDF5 weights file, keyed by its path inside the file."""
    import h5py

    arrays: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as handle:
        handle.visititems(lambda name, item: arrays.__setitem__(name, item[()])
                          if isinstance(item, h5py.Dataset) else None)
    return arrays


def same_weights(first: str | os.PathLike, second: str | os.PathLike) -> bool:
    """True when two generator weights files hold the same network.

    Byte-identical files are; otherwise every variable must match at the lower precision of
    the two files, so a float16 snapshot counts as a copy of the float32 file the trainer
    wrote after the same epoch (its float32 weights stay in the run's resume checkpoint).
    """
    import filecmp

    if filecmp.cmp(first, second, shallow=False):
        return True
    try:
        a, b = _weight_arrays(Path(first)), _weight_arrays(Path(second))
    except OSError:  # not an HDF5 file: only a byte-identical copy would have counted
        return False
    if a.keys() != b.keys():
        return False
    for name, x in a.items():
        y = b[name]
        if x.shape != y.shape:
            return False
        if x.dtype.kind == "f" and y.dtype.kind == "f":
            lower = x.dtype if x.dtype.itemsize <= y.dtype.itemsize else y.dtype
            x, y = x.astype(lower), y.astype(lower)
        if not np.array_equal(x, y):
            return False
    return True


@dataclass
class SelectionPlan:
    """What `--select-epoch` does for one pair, checked before any slow work starts."""

    pair: str
    run_dir: Path
    snapshots: list[Snapshot]
    val_actors: tuple[int, ...]
    test_actors: tuple[int, ...]  # kept out of the classifier's training too


def plan_selection(args: argparse.Namespace, pair: str, files: Sequence[RavdessFile]
                   ) -> SelectionPlan | None:
    """Check one pair's run folder for --select-epoch; None (with a note) to skip it.

    UserErrors: no snapshots (with --pair; --all skips the pair), a config that records no
    validation actors, validation actors missing from the RAVDESS copy, and a run-folder
    generator that no snapshot holds (installing would lose it) unless --force.
    """
    from convert import _check_config
    from models import generator_path, read_config

    _, source, target = parse_pair(pair)
    run_dir = args.models / pair
    snapshots = find_snapshots(run_dir)
    if not snapshots:
        out = "" if args.models == Path("results") else f" --out {run_dir}"
        hint = (f"train it with `python train_cyclegan.py --pair {pair}{out} --snapshot-every 10`"
                " (snapshots are kept every N epochs and after the last)")
        if args.pair:
            raise UserError(f"{run_dir}: no snapshots ({SNAPSHOTS_DIR}/epoch_*/) to choose an "
                            f"epoch from; {hint}")
        if (run_dir / CONFIG_NAME).is_file():
            print(f"note: {pair}: no snapshots in {run_dir}: skipped ({hint})", file=sys.stderr)
        return None
    config = read_config(run_dir)
    _check_config(config, run_dir, source=source, target=target, direction="AtoB")
    val_actors = tuple(sorted(int(a) for a in config.get("val_actors") or ()))
    if not val_actors:
        raise UserError(f"{run_dir}/config.json records no val_actors, so there is nothing to "
                        "choose an epoch on; make the data with `python data_prep.py` "
                        f"(validation actors {_actor_list(DEFAULT_VAL_ACTORS)} by default) and "
                        f"retrain with `python train_cyclegan.py --pair {pair}`")
    recorded_test = tuple(int(a) for a in config.get("test_actors") or DEFAULT_TEST_ACTORS)
    test_actors = tuple(sorted(set(args.test_actors or ()) | set(recorded_test)))
    if set(val_actors) & set(test_actors):
        raise UserError(f"validation actors "
                        f"{_actor_list(sorted(set(val_actors) & set(test_actors)))} (from "
                        f"{run_dir}/config.json) are also test actors (its test_actors or "
                        "--test-actors); the two sets must not overlap")
    missing = sorted(set(val_actors) - {f.actor for f in files})
    if missing:
        raise UserError(f"validation actors {_actor_list(missing)} (from {run_dir}/config.json) "
                        f"have no clips in {args.ravdess}; pass the --ravdess folder the run "
                        "was trained from")
    installed = generator_path(run_dir)
    if installed.is_file() and not args.force and not any(
            same_weights(installed, generator_path(s.path)) for s in reversed(snapshots)):
        raise UserError(f"{installed}: holds weights that no snapshot in {run_dir / SNAPSHOTS_DIR}"
                        " has, so installing the chosen epoch over it would lose them; copy it "
                        "away or pass --force")
    if not args.force:  # neither selection file may replace one evaluate.py did not write
        read_selection(run_dir / SELECTION_JSON)
    check_generated(run_dir / SELECTION_MD, script="evaluate.py", force=args.force)
    return SelectionPlan(pair, run_dir, snapshots, val_actors, test_actors)


def select_epoch(evaluator: Evaluator, plan: SelectionPlan, *,
                 margin_db: float = SELECTION_MARGIN_DB) -> dict[str, Any]:
    """Score every snapshot of a run on its validation actors and apply `choose_epoch`.

    The real clips (source = zero effort, target) are scored once, then each snapshot's
    converted clips, through `Evaluator.evaluate_pair` with the classifier trained on actors
    in neither the validation nor the test set.

    Returns:
        the selection.json record: pair, actors, rule, zero-effort MCD and guard limit, the
        reference rows, one row per epoch (`epochs`: evaluate_pair's converted figures plus
        epoch, snapshot, passes_guard, chosen), chosen_epoch, guard_held, classifier report.
    """
    from tqdm import tqdm

    from models import load_generator
    from spectro import IMAGE_SIZE

    def score(**kwargs: Any) -> dict[str, Any]:
        return evaluator.evaluate_pair(plan.pair, test_actors=plan.val_actors,
                                       exclude_actors=plan.test_actors, **kwargs)

    reference = score(systems=("source", "target"))
    zero_effort = reference["systems"]["source"]["mcd_to_target"]
    rows = []
    for snapshot in tqdm(plan.snapshots, desc=f"{plan.pair} snapshots", unit="epoch",
                         disable=None):
        # Windows are always IMAGE_SIZE square, as convert.load_converter builds them.
        generator = load_generator(snapshot.path, "AtoB", input_shape=(IMAGE_SIZE, IMAGE_SIZE, 1))
        entry = score(generator=generator, model_dir=snapshot.path, systems=("converted",))
        del generator
        # Relative to the run folder: selection.json is committed, local paths are not.
        rows.append({"epoch": snapshot.epoch,
                     "snapshot": snapshot.path.relative_to(plan.run_dir).as_posix(),
                     **entry["systems"]["converted"]})
    choice = choose_epoch(rows, zero_effort, margin_db=margin_db)
    for row in rows:
        row["passes_guard"] = row["epoch"] in choice["passing"]
        row["chosen"] = row["epoch"] == choice["epoch"]
    return {
        "version": SELECTION_VERSION, "pair": reference["pair"],
        "source": reference["source"], "target": reference["target"],
        "val_actors": list(plan.val_actors), "test_actors": list(plan.test_actors),
        "rule": {"text": SELECTION_RULE.format(margin=margin_db), "margin_db": margin_db},
        "zero_effort_mcd_db": zero_effort, "mcd_limit_db": choice["mcd_limit_db"],
        "chosen_epoch": choice["epoch"], "guard_held": choice["guard_held"],
        "n_clips": reference["n_clips"],
        "reference": {name: reference["systems"][name] for name in ("source", "target")},
        "epochs": rows, "classifier": reference["classifier"],
        "recogniser": reference["recogniser"], "settings": reference["settings"],
        "selected": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def install_snapshot(run_dir: str | os.PathLike, snapshot: Snapshot,
                     selected_on: dict[str, Any]) -> Path:
    """Make `snapshot` the run's shipped model: copy its generator file over
    `<run_dir>/generator_AtoB.weights.h5` and write `<run_dir>/config.json` = the snapshot's
    config plus "epoch" and `selected_on`, each atomically. Returns the generator path."""
    import shutil

    from models import generator_path, read_config, write_config

    installed = generator_path(run_dir)
    with atomic_output(installed) as tmp:
        shutil.copyfile(generator_path(snapshot.path), tmp)
    config = read_config(snapshot.path)
    write_config(run_dir, {**config, "epoch": snapshot.epoch, "selected_on": selected_on})
    return installed


def read_selection(path: str | os.PathLike) -> dict[str, Any] | None:
    """A selection.json as a dict; None when missing; UserError when it is not one."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        selection = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: not a readable selection file ({exc}); move it away (or "
                        "let `python evaluate.py --select-epoch --force` replace it)") from None
    if not isinstance(selection, dict) or not isinstance(selection.get("epochs"), list) \
            or "chosen_epoch" not in selection:
        raise UserError(f"{path}: not a SpectroGAN selection file (no epochs / chosen_epoch); "
                        "move it away (or let `python evaluate.py --select-epoch --force` "
                        "replace it)")
    return selection


def selection_verdict(selection: dict[str, Any]) -> str:
    """One line: the pair, the chosen epoch and its validation figures, whether the guard held."""
    chosen = next(row for row in selection["epochs"] if row["epoch"] == selection["chosen_epoch"])
    target = selection["target"]
    figures = (f"judged {target} {_percent(chosen['judged_target'])}, MCD to target "
               f"{chosen['mcd_to_target']:.2f} dB")
    guard = (f"at most {selection['mcd_limit_db']:.2f} dB = zero effort "
             f"{selection['zero_effort_mcd_db']:.2f} + {selection['rule']['margin_db']:.1f} dB")
    count = f"{len(selection['epochs'])} snapshot(s)"
    where = f"validation actors {_actor_list(selection['val_actors'])}"
    if selection["guard_held"]:
        return (f"{selection['pair']}: epoch {selection['chosen_epoch']} of {count} chosen on "
                f"{where}: {figures} (MCD guard: {guard})")
    return (f"{selection['pair']}: none of {count} within the MCD guard ({guard}) on {where}; "
            f"epoch {selection['chosen_epoch']} picked by judged-{target} share anyway: "
            f"{figures}")


def selection_table(selection: dict[str, Any], *, verdict: bool = True) -> str:
    """Markdown of one selection: what it was scored on, one row per epoch between the
    zero-effort and real-target rows, the rule and (with `verdict`) `selection_verdict`."""
    source, target = selection["source"], selection["target"]
    classifier = selection["classifier"]
    lines = [f"### {selection['pair']}: epoch chosen on validation actors "
             f"{_actor_list(selection['val_actors'])}", "",
             f"{selection['n_clips']} {source} clips of the validation actors (never trained "
             f"on), each scored against the same actor's same sentence spoken {target}. Emotion "
             f"classifier trained on actors {_actor_list(classifier['train_actors'])} (neither "
             f"validation nor test): {_percent(classifier.get('accuracy'))} right on the "
             "validation actors' real clips.", "",
             f"| epoch | judged {target} | {target} over {source} | MCD to target (dB) "
             "| MCD to source (dB) | sentence recognised | within guard | chosen |",
             "|" + "---|" * 8]

    def line(label: str, row: dict[str, Any], guard: str, chosen: str) -> str:
        return "| " + " | ".join([
            label, _percent(row["judged_target"]), _percent(row["target_over_source"]),
            _number(row["mcd_to_target"], 2, row["mcd_to_target_std"]),
            _number(row["mcd_to_source"], 2, row["mcd_to_source_std"]),
            _percent(row["recognised"]), guard, chosen]) + " |"

    lines.append(line(f"{source} (zero effort)", selection["reference"]["source"], "", ""))
    for row in selection["epochs"]:
        lines.append(line(str(row["epoch"]), row, "yes" if row["passes_guard"] else "no",
                          "**chosen**" if row["chosen"] else ""))
    lines.append(line(f"{target} (real)", selection["reference"]["target"], "", ""))
    lines += ["", f"Rule: {selection['rule']['text']}."]
    if verdict:
        lines += ["", selection_verdict(selection) + "."]
    return "\n".join(lines)


def write_selection(run_dir: str | os.PathLike, selection: dict[str, Any]) -> tuple[Path, Path]:
    """Write `<run_dir>/selection.json` and selection.md atomically; returns both paths."""
    run_dir = Path(run_dir)
    json_path = run_dir / SELECTION_JSON
    with atomic_output(json_path) as tmp:
        tmp.write_text(json.dumps(selection, indent=2) + "\n")
    md_path = write_generated(run_dir / SELECTION_MD, selection_table(selection) + "\n",
                              script="evaluate.py")
    return json_path, md_path


# --- Command line ---------------------------------------------------------------------------
def default_ravdess() -> Path:
    """data/ravdess (where `data_prep.py --download ravdess` puts it) if present, else the
    shared copy ../shared/data/ravdess."""
    local = Path("data") / "ravdess"
    return local if local.is_dir() else Path("..") / "shared" / "data" / "ravdess"


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser of evaluate.py."""
    parser = argparse.ArgumentParser(
        prog="evaluate.py", description=__doc__.split("\n\n")[0],
        epilog="Usage:" + __doc__.split("Usage:", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--pair", type=_pair_arg, choices=ALL_PAIRS, metavar="SRC2DST",
                       help="pair to evaluate, any two RAVDESS emotions, e.g. calm2anger "
                            "(aliases anger/fear/surprise accepted)")
    which.add_argument("--all", action="store_true",
                       help=f"evaluate {', '.join(DEFAULT_PAIRS)} and (unless "
                            "--baselines-only) every other pair trained under --models; pairs "
                            "without a model get baseline rows only (default: off)")
    parser.add_argument("--models", type=Path, default=Path("results"), metavar="DIR",
                        help="folder of trained run folders <pair>/ (default: results)")
    parser.add_argument("--ravdess", type=Path, default=None, metavar="DIR",
                        help="RAVDESS folder holding Actor_01 ... (default: data/ravdess if "
                             "present, else ../shared/data/ravdess)")
    parser.add_argument("--out", type=Path, default=Path("results"), metavar="DIR",
                        help="where metrics.json, metrics.md and the feature cache (.cache/) go "
                             "(with --select-epoch: only the cache) (default: results)")
    parser.add_argument("--baselines-only", action="store_true",
                        help="score only the systems that need no model (default: off; with "
                             "--pair a missing model is an error)")
    parser.add_argument("--test-actors", type=_actors_arg, default=None, metavar="LIST",
                        help="held-out actors to evaluate on (default: the model's "
                             "config.json test_actors, else data_prep's "
                             f"{','.join(map(str, DEFAULT_TEST_ACTORS))}; with --select-epoch "
                             "these are kept out of the classifier's training besides the "
                             "config's test_actors)")
    parser.add_argument("--limit", type=positive_int, default=None, metavar="N",
                        help="score at most N source clips per pair (default: all)")
    parser.add_argument("--iters", type=non_negative_int, default=GRIFFIN_LIM_ITERS,
                        help=f"Griffin-Lim iterations (default: {GRIFFIN_LIM_ITERS}, as "
                             "convert.py)")
    parser.add_argument("--phase", choices=("source", "random"), default="source",
                        help="Griffin-Lim initial phase, as convert.py (default: source)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the random initial phase (default: 0)")
    parser.add_argument("--batch-size", type=positive_int, default=8,
                        help="spectrogram windows per generator call (default: 8)")
    parser.add_argument("--jobs", type=positive_int, default=1,
                        help="processes for the classifier's first feature pass over the "
                             "real clips (default: 1)")
    parser.add_argument("--no-asr", action="store_true",
                        help="skip the speech-recogniser check even if pocketsphinx is "
                             "installed (default: off)")
    parser.add_argument("--select-epoch", action="store_true",
                        help="instead of the test report: score every snapshot "
                             "<models>/<pair>/snapshots/epoch_*/ on the run's validation actors, "
                             "write <models>/<pair>/selection.json and selection.md, and install "
                             "the chosen epoch as the pair's generator_AtoB.weights.h5 and "
                             "config.json (rule: highest judged-target share among epochs "
                             f"whose MCD to the target is at most {SELECTION_MARGIN_DB:g} dB "
                             "worse than zero effort); with --all every pair with snapshots "
                             "(default: off)")
    parser.add_argument("--force", action="store_true",
                        help="replace a metrics.json / metrics.md in --out that evaluate.py did "
                             "not write; with --select-epoch also a selection.json / .md it did "
                             "not write and a run-folder generator that matches no snapshot "
                             "(default: refuse)")
    return parser


def _plan_model(args: argparse.Namespace, pair: str, source: str, target: str
                ) -> tuple[Path, str] | None:
    """(run folder, direction) of the pair's generator, None for baselines only.

    With --pair a missing model is a UserError naming the fixes; with --all it is a note.
    """
    if args.baselines_only:
        return None
    from convert import find_generator

    try:
        return find_generator(args.models, source, target)
    except UserError as exc:
        if args.pair:
            raise UserError(f"{exc}; or pass --baselines-only to score the baselines "
                            "only") from None
        print(f"note: no model for {pair} in {args.models}: baseline rows only", file=sys.stderr)
        return None


def _held_out(args: argparse.Namespace, plan: tuple[Path, str] | None,
              files: Sequence[RavdessFile], pair: str) -> tuple[int, ...]:
    """The actors to evaluate on (see --test-actors), checked against the RAVDESS copy."""
    present = {f.actor for f in files}
    model_actors: tuple[int, ...] | None = None
    if plan is not None:
        from models import read_config

        recorded = read_config(plan[0]).get("test_actors")
        if recorded:
            model_actors = tuple(sorted(int(a) for a in recorded))
    actors = args.test_actors or model_actors or tuple(DEFAULT_TEST_ACTORS)
    if args.test_actors and model_actors and set(args.test_actors) - set(model_actors):
        print(f"warning: {pair}: the model was held out from actors "
              f"{_actor_list(model_actors)} only; it may have trained on "
              f"{_actor_list(sorted(set(args.test_actors) - set(model_actors)))}",
              file=sys.stderr)
    missing = [a for a in actors if a not in present]
    if missing:
        source = "--test-actors" if args.test_actors else (
            f"{plan[0]}/config.json" if model_actors else "data_prep's default split")
        raise UserError(f"held-out actors {_actor_list(missing)} (from {source}) have no clips "
                        f"in {args.ravdess}; pass --test-actors with actors present there")
    return actors


def _make_evaluator(args: argparse.Namespace, files: list[RavdessFile]) -> Evaluator:
    """The Evaluator the command-line settings ask for (feature cache under --out)."""
    recogniser = None if args.no_asr else load_recogniser()
    if recogniser is None and not args.no_asr:
        print("note: no speech recogniser installed (pip install pocketsphinx for the "
              "'sentence recognised' column)", file=sys.stderr)
    return Evaluator(
        files=files, root=args.ravdess, cache=FeatureCache(args.out / ".cache" /
                                                           "eval_features.npz"),
        settings=EvalSettings(n_iter=args.iters, phase=args.phase, seed=args.seed,
                              batch_size=args.batch_size, limit=args.limit, jobs=args.jobs),
        recogniser=recogniser)


def _select_epochs(args: argparse.Namespace, files: list[RavdessFile]) -> int:
    """--select-epoch: choose, record and install an epoch for one pair or every pair."""
    if args.pair:
        pairs = [args.pair]
    else:
        from convert import trained_pairs

        pairs = sorted(set(DEFAULT_PAIRS) | {p for p in trained_pairs(args.models)
                                             if p in ALL_PAIRS})
    # Every pair is checked before the first slow evaluation, so a refusal costs nothing.
    plans = [plan for plan in (plan_selection(args, pair, files) for pair in pairs) if plan]
    if not plans:
        raise UserError(f"no run folder in {args.models} has snapshots to choose an epoch from; "
                        "train with `python train_cyclegan.py --pair calm2anger "
                        "--snapshot-every 10`, or pass --models DIR")
    evaluator = _make_evaluator(args, files)
    for plan in plans:
        selection = select_epoch(evaluator, plan)
        chosen = next(s for s in plan.snapshots if s.epoch == selection["chosen_epoch"])
        row = next(r for r in selection["epochs"] if r["chosen"])
        installed = install_snapshot(plan.run_dir, chosen, {
            "val_actors": selection["val_actors"], "judged_target": row["judged_target"],
            "mcd_db": row["mcd_to_target"]})
        selection["installed"] = installed.name  # beside selection.json
        json_path, md_path = write_selection(plan.run_dir, selection)
        print(selection_table(selection, verdict=False) + "\n")
        print(f"{selection_verdict(selection)}; installed as {installed}; figures in "
              f"{json_path.name} and {md_path.name} beside it\n")
    return 0


@cli_main
def main(argv: list[str] | None = None) -> int:
    """Command-line entry: evaluate one pair or all, write metrics.json and metrics.md (or,
    with --select-epoch, choose and install each run's epoch on its validation actors)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.select_epoch and args.baselines_only:
        parser.error("--select-epoch scores a run's snapshots; it cannot run with "
                     "--baselines-only")
    if args.ravdess is None:
        args.ravdess = default_ravdess()
    files = scan_ravdess(args.ravdess)
    if not args.baselines_only and not args.models.is_dir():
        raise UserError(f"models folder {args.models} does not exist; train a model with "
                        "`python train_cyclegan.py --pair calm2anger`, pass --models DIR"
                        + ("" if args.select_epoch else ", or pass --baselines-only"))
    if args.select_epoch:
        return _select_epochs(args, files)
    metrics_path, table_path = args.out / "metrics.json", args.out / "metrics.md"
    try:
        metrics = read_metrics(metrics_path)
    except UserError:
        if not args.force:
            raise
        metrics = {"version": METRICS_VERSION, "pairs": {}}  # --force: replace the foreign file
    check_generated(table_path, script="evaluate.py", force=args.force)
    if args.pair:
        pairs = [args.pair]
    elif args.baselines_only:
        pairs = list(DEFAULT_PAIRS)  # no need to look for (and load keras for) run folders
    else:
        from convert import trained_pairs

        extra = [p for p in trained_pairs(args.models) if p in ALL_PAIRS]
        pairs = list(DEFAULT_PAIRS) + sorted(set(extra) - set(DEFAULT_PAIRS))
    plans = {pair: _plan_model(args, pair, *parse_pair(pair)[1:]) for pair in pairs}
    held_out = {pair: _held_out(args, plans[pair], files, pair) for pair in pairs}
    evaluator = _make_evaluator(args, files)
    for pair in pairs:
        generator, model_dir = None, None
        if plans[pair] is not None:
            from convert import load_converter

            _, source, target = parse_pair(pair)
            generator, model_dir, _ = load_converter(args.models, source, target)
        entry = evaluator.evaluate_pair(pair, test_actors=held_out[pair], generator=generator,
                                        model_dir=model_dir)
        del generator
        metrics["pairs"][pair] = entry
        write_metrics(metrics_path, metrics)
        write_generated(table_path, metrics_markdown(metrics), script="evaluate.py")
        print(pair_table(entry) + "\n")
    print(f"wrote {metrics_path} and {table_path} ({len(pairs)} pair(s) evaluated, "
          f"{len(metrics['pairs'])} in the file)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
