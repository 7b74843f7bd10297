"""Audio <-> spectrogram image transforms and Griffin-Lim resynthesis for SpectroGAN.

Speech becomes a 260x260 float32 image in [-1, 1]: rows are the 257 STFT frequency bins
(row 0 = 0 Hz), columns are 257 STFT frames (16.4 ms hop), values are dB magnitude relative
to a reference (by default the clip's own maximum) mapped linearly from [-80, 0] dB to
[-1, 1], and the last three rows and columns are padding at -1 (the floor). Audio comes back
through fast Griffin-Lim, optionally started from the source clip's own STFT phase.

Whole utterances of any length are cut into overlapping 257-frame windows
(`utterance_to_windows`) and joined back with cross-fades (`windows_to_utterance`), so a
0.3 s clip and a 10-minute file both work and the output has the input's length exactly.
Every constant of the transform lives here, once; the other modules import them. Audio files
are audio_files.py's job, figures plots.py's, and the round trip of a recording file is the
script resynthesis.py's (`python resynthesis.py speech.wav -o resynth.wav`).
"""

from __future__ import annotations

import functools
from typing import Callable

import numpy as np

from spectrogan.core.strength import check_strength


# --- Transform constants (the only definition; other modules import these) -----------------
SAMPLE_RATE = 16000  # Hz; every clip is resampled to this rate on load.
N_FFT = 512  # STFT length in samples (32 ms at 16 kHz); gives N_FFT // 2 + 1 frequency bins.
HOP_LENGTH = 256  # STFT hop in samples (16 ms): half-overlapping frames, as the original.
WINDOW = "hann"  # STFT analysis/synthesis window.
CENTER = True  # Frames are centred on multiples of HOP_LENGTH (zero-padded at both ends).
N_BINS = N_FFT // 2 + 1  # 257 frequency rows in every image.
N_FRAMES = 257  # Time columns per image: 257 frames = 4.1 s of audio, the original's crop.
IMAGE_SIZE = 260  # 257 padded with PAD_VALUE to 260: divisible by 4 for two stride-2 stages.
TOP_DB = 80.0  # Dynamic range: magnitudes more than 80 dB below the reference hit the floor.
PAD_VALUE = -1.0  # Image value of the floor (-TOP_DB dB); used for padding and silence.
AMIN = 1e-10  # Smallest magnitude before taking the log, so silence gives -inf never.
GRIFFIN_LIM_ITERS = 32  # Default Griffin-Lim iterations: fast, audibly close to 100.
GRIFFIN_LIM_MOMENTUM = 0.99  # Fast Griffin-Lim momentum (Perraudin et al. 2013), librosa's.
WINDOW_OVERLAP = 64  # Frames neighbouring windows share; a cross-fade over them hides the seam.
GL_BLOCK_FRAMES = 2048  # Griffin-Lim's blocks (33 s, sharing GL_BLOCK_OVERLAP): bounded memory.
GL_BLOCK_OVERLAP = 64


# --- STFT pair -----------------------------------------------------------------------------
def analysis_window() -> np.ndarray:
    """The periodic Hann window of N_FFT samples (WINDOW, as scipy's get_window builds it for
    spectral analysis), float32 (N_FFT,)."""
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)


def frames_of(audio: np.ndarray, *, frame_length: int = N_FFT) -> np.ndarray:
    """Centred frames of `audio`: zero-padded by frame_length // 2 at both ends, one frame
    every HOP_LENGTH samples; a read-only view (1 + L // HOP_LENGTH, frame_length)."""
    half = frame_length // 2
    padded = np.pad(np.asarray(audio), (half, half))
    return np.lib.stride_tricks.sliding_window_view(padded, frame_length)[::HOP_LENGTH]


def stft(audio: np.ndarray) -> np.ndarray:
    """Complex STFT of mono audio with the project's settings (librosa.stft's with
    n_fft=N_FFT, hop_length=HOP_LENGTH, window=WINDOW, center=CENTER, zero padding, to float32
    rounding; computed here so a conversion need not import librosa).

    Args:
        audio: 1-D float array of L samples at SAMPLE_RATE.
    Returns:
        complex64 array of shape (N_BINS, 1 + L // HOP_LENGTH).
    """
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError(f"stft expects mono 1-D audio, got shape {audio.shape}")
    spectrum = np.fft.rfft(frames_of(audio) * analysis_window(), axis=1)
    return np.ascontiguousarray(spectrum.T, dtype=np.complex64)


def istft(spectrum: np.ndarray, *, length: int) -> np.ndarray:
    """Inverse of `stft`: complex (N_BINS, T) -> float32 audio of exactly `length` samples."""
    import librosa

    audio = librosa.istft(spectrum, n_fft=N_FFT, hop_length=HOP_LENGTH, window=WINDOW,
                          center=CENTER, length=length).astype(np.float32, copy=False)
    return audio * _tail_gain(spectrum.shape[-1], length)


@functools.lru_cache(maxsize=32)
def _tail_gain(n_frames: int, length: int) -> np.ndarray:
    """Gain that bounds the inverse STFT's window-sum normalisation at the clip's tail.

    Past the last frame centre only one window, decaying to zero, covers the samples; dividing
    by its tiny square sum amplifies any inconsistency of a Griffin-Lim estimate into a loud
    click (x1000 when length % HOP_LENGTH is near HOP_LENGTH). Where the sum falls below a tenth
    of its peak the normalisation is capped, which fades the last few milliseconds instead.
    """
    import librosa

    square_sum = librosa.filters.window_sumsquare(window=WINDOW, n_frames=n_frames,
                                                  hop_length=HOP_LENGTH, n_fft=N_FFT)
    offset = N_FFT // 2 if CENTER else 0
    square_sum = square_sum[offset:offset + length]
    floor = 0.1 * square_sum.max()
    gain = np.minimum(1.0, square_sum / floor).astype(np.float32)
    if gain.shape[0] < length:  # samples no frame covers: librosa leaves them zero anyway
        gain = np.pad(gain, (0, length - gain.shape[0]))
    gain.setflags(write=False)
    return gain


def n_frames_for(length: int) -> int:
    """Number of STFT frames for `length` samples (centred frames)."""
    return 1 + length // HOP_LENGTH


# --- Magnitude <-> normalised dB image -----------------------------------------------------
def magnitude_to_image(magnitude: np.ndarray, *, ref: float | None = None,
                       top_db: float = TOP_DB) -> tuple[np.ndarray, float]:
    """Map STFT magnitude to the normalised dB image (no padding).

    Args:
        magnitude: non-negative float array (N_BINS, T), any T >= 1.
        ref: the magnitude that maps to 0 dB (image value 1). Default: `magnitude.max()`,
            the clip's own maximum, as the original did.
        top_db: dynamic range; values below -top_db dB are floored to -1.
    Returns:
        (image, ref): float32 (N_BINS, T) in [-1, 1], and the reference used (float > 0).
    """
    magnitude = np.asarray(magnitude)
    if magnitude.ndim != 2 or magnitude.shape[0] != N_BINS:
        raise ValueError(f"magnitude must have shape ({N_BINS}, T), got {magnitude.shape}")
    if top_db <= 0:
        raise ValueError(f"top_db must be positive, got {top_db}")
    if ref is None:
        ref = float(magnitude.max())
    ref = max(float(ref), AMIN)
    db = 20.0 * np.log10(np.maximum(magnitude, AMIN) / ref)
    image = np.clip(db / top_db, -1.0, 0.0) * 2.0 + 1.0
    return image.astype(np.float32), ref


def image_to_magnitude(image: np.ndarray, *, ref: float, top_db: float = TOP_DB) -> np.ndarray:
    """Inverse of `magnitude_to_image`: normalised dB image (N_BINS, T) -> magnitude.

    Values are clipped to [-1, 1] first, so any generator output maps to a valid magnitude.
    Returns float32 (N_BINS, T); the floor (-1) maps to ref * 10**(-top_db / 20).
    """
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 2 or image.shape[0] != N_BINS:
        raise ValueError(f"image must have shape ({N_BINS}, T), got {image.shape}")
    if not ref > 0:
        raise ValueError(f"ref must be positive, got {ref}")
    db = (np.clip(image, -1.0, 1.0) - 1.0) / 2.0 * top_db
    return (ref * np.power(10.0, db / 20.0)).astype(np.float32)


def pad_image(image: np.ndarray) -> np.ndarray:
    """Pad a (N_BINS, T <= N_FRAMES) image with PAD_VALUE to (IMAGE_SIZE, IMAGE_SIZE) float32.

    Padding goes after the data: extra frequency rows at the bottom, extra frames at the right.
    """
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 2 or image.shape[0] != N_BINS or not 1 <= image.shape[1] <= N_FRAMES:
        raise ValueError(f"image must have shape ({N_BINS}, 1..{N_FRAMES}), got {image.shape}")
    padded = np.full((IMAGE_SIZE, IMAGE_SIZE), PAD_VALUE, dtype=np.float32)
    padded[:N_BINS, :image.shape[1]] = image
    return padded


def crop_image(image: np.ndarray, *, n_frames: int = N_FRAMES) -> np.ndarray:
    """Inverse of `pad_image`: (IMAGE_SIZE, IMAGE_SIZE) -> (N_BINS, n_frames) float32."""
    image = np.asarray(image, dtype=np.float32)
    if image.shape != (IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(f"image must have shape ({IMAGE_SIZE}, {IMAGE_SIZE}), got {image.shape}")
    if not 1 <= n_frames <= N_FRAMES:
        raise ValueError(f"n_frames must be in 1..{N_FRAMES}, got {n_frames}")
    return image[:N_BINS, :n_frames].copy()


# --- How strongly a model's change is applied -----------------------------------------------
IDENTITY_EPSILON = 1e-4  # images are squeezed into (-1, 1) by this much before atanh, so the
#                          floor (-1) stays finite: -0.9999 is 0.004 dB above the 80 dB floor,
#                          inaudible and far below MCD's resolution. Identity-start generators
#                          (models.py) add their correction in the same logit space.


def image_logits(image: np.ndarray) -> np.ndarray:
    """atanh of an image in [-1, 1], squeezed by IDENTITY_EPSILON: its position in tanh's
    logit space, where an identity-start generator adds its correction. float32."""
    bound = 1.0 - IDENTITY_EPSILON
    return np.arctanh(np.clip(np.asarray(image, dtype=np.float32), -bound, bound))


def scale_change(inputs: np.ndarray, outputs: np.ndarray, *, strength: float) -> np.ndarray:
    """Apply a fraction (or a multiple) of a model's change to its input images.

    out = tanh(atanh(x) + strength * (atanh(y) - atanh(x))), atanh as `image_logits`. For an
    identity-start generator, y = tanh(atanh(x) + correction), so this scales its correction
    exactly; for other generators it is the same interpolation in logit space. Strength 0
    gives the inputs (the vocoder-only result), 1 the outputs (to IDENTITY_EPSILON), and every
    pixel moves monotonically with the strength in between.

    Args:
        inputs, outputs: float images of one shape, values in [-1, 1] (model in, model out).
        strength: in [0, 1] (strength.check_strength).
    Returns:
        float32 array of that shape in (-1, 1).
    """
    strength = check_strength(strength)
    inputs, outputs = np.asarray(inputs), np.asarray(outputs)
    if inputs.shape != outputs.shape:
        raise ValueError(f"inputs and outputs must have one shape, got {inputs.shape} and "
                         f"{outputs.shape}")
    start = image_logits(inputs)
    return np.tanh(start + np.float32(strength) * (image_logits(outputs) - start)
                   ).astype(np.float32)


# --- Spectral envelope: the frequency-smooth part of a per-frame correction ---------------
# The spectral envelope as this project uses it: the first 24 DCT coefficients along frequency
# of a frame (shortest kept period about 22 bins, 690 Hz; the harmonics of a 94 Hz voice are 3
# bins apart). The envelope preset and the post-hoc cut both mean this.
ENVELOPE_COEFFICIENTS = 24


def envelope_projection(n_bins: int, *, coefficients: int) -> np.ndarray:
    """Matrix that keeps the frequency-smooth part of a column (one frame) of an image.

    Projects onto the first `coefficients` orthonormal DCT-II basis vectors over `n_bins`
    rows: P = D_k^T D_k, symmetric and idempotent (P @ P == P). A per-frame correction
    multiplied by P keeps what varies slowly along frequency (the spectral envelope: formants,
    tilt, overall level) and drops what varies from one harmonic to the next, so adding it to
    an image moves the envelope and keeps the input's harmonic fine structure. With 24 of the
    260 rows the shortest kept period along frequency is about 22 bins (690 Hz); the harmonics
    of a 94 Hz voice are 3 bins apart.

    Args:
        n_bins: rows (frequency bins) of the images it will act on, >= 1.
        coefficients: DCT coefficients kept, 1..n_bins (n_bins keeps everything: identity).
    Returns:
        float32 (n_bins, n_bins); apply as `P @ column` or along an image's frequency axis.
    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    if not 1 <= coefficients <= n_bins:
        raise ValueError(f"coefficients must be in 1..{n_bins}, got {coefficients}")
    rows = np.arange(n_bins, dtype=np.float64)
    orders = np.arange(coefficients, dtype=np.float64)[:, None]
    basis = np.cos(np.pi * (rows + 0.5) * orders / n_bins) * np.sqrt(2.0 / n_bins)
    basis[0] /= np.sqrt(2.0)
    return (basis.T @ basis).astype(np.float32)


# --- One clip <-> one image ----------------------------------------------------------------
def audio_to_image(audio: np.ndarray, *, ref: float | None = None) -> tuple[np.ndarray, float]:
    """Forward transform of a clip of at most N_FRAMES frames (<= 4.1 s) to one image.

    Returns (image float32 (IMAGE_SIZE, IMAGE_SIZE) in [-1, 1], ref). Frames after the clip
    and the padding rows are PAD_VALUE. Longer clips: use `utterance_to_windows`.
    """
    audio = np.asarray(audio, dtype=np.float32)
    n_frames = n_frames_for(audio.shape[-1])
    if audio.ndim != 1 or n_frames > N_FRAMES:
        raise ValueError(f"audio_to_image takes mono audio of at most {N_FRAMES} frames "
                         f"({(N_FRAMES - 1) * HOP_LENGTH} samples), got shape {audio.shape}; "
                         "use utterance_to_windows for longer clips")
    image, ref = magnitude_to_image(np.abs(stft(audio)), ref=ref)
    return pad_image(image), ref


def image_to_audio(image: np.ndarray, *, ref: float, length: int | None = None,
                   n_iter: int = GRIFFIN_LIM_ITERS, momentum: float = GRIFFIN_LIM_MOMENTUM,
                   init_phase: np.ndarray | None = None,
                   seed: int | np.random.Generator | None = 0) -> np.ndarray:
    """Inverse of `audio_to_image`: one padded image -> float32 audio by Griffin-Lim.

    `length` (samples) defaults to the full 257 frames, (N_FRAMES - 1) * HOP_LENGTH; shorter
    clips pass their own length so only their frames are used. `init_phase` (radians,
    (N_BINS, frames)) starts Griffin-Lim from a known phase instead of random phase.
    """
    if length is None:
        length = (N_FRAMES - 1) * HOP_LENGTH
    magnitude = image_to_magnitude(crop_image(image, n_frames=n_frames_for(length)), ref=ref)
    return griffin_lim(magnitude, length=length, n_iter=n_iter, momentum=momentum,
                       init_phase=init_phase, seed=seed)


# --- Griffin-Lim ---------------------------------------------------------------------------
def _griffin_lim_block(magnitude: np.ndarray, angles: np.ndarray, *, length: int, n_iter: int,
                       momentum: float) -> tuple[np.ndarray, np.ndarray]:
    """Fast Griffin-Lim on one block from unit-modulus `angles`; returns (audio, angles)."""
    eps = np.finfo(np.float32).tiny
    rebuilt_prev = np.zeros_like(angles)
    step = momentum / (1.0 + momentum)
    for _ in range(n_iter):
        rebuilt = stft(istft(magnitude * angles, length=length))
        angles = rebuilt - step * rebuilt_prev
        angles /= np.abs(angles) + eps
        rebuilt_prev = rebuilt
    return istft(magnitude * angles, length=length), angles


def griffin_lim(magnitude: np.ndarray, *, length: int, n_iter: int = GRIFFIN_LIM_ITERS,
                momentum: float = GRIFFIN_LIM_MOMENTUM, init_phase: np.ndarray | None = None,
                seed: int | np.random.Generator | None = 0,
                progress: Callable[[int], None] | None = None) -> np.ndarray:
    """Fast Griffin-Lim phase reconstruction, block by block for bounded memory.

    Args:
        magnitude: float (N_BINS, T) STFT magnitude with T == 1 + length // HOP_LENGTH.
        length: output length in samples (exact).
        n_iter: iterations per block (>= 0; 0 returns the initial phase's audio).
        momentum: fast Griffin-Lim momentum in [0, 1) (0 = classic Griffin-Lim).
        init_phase: optional float (N_BINS, T) phase in radians to start from (e.g. the source
            clip's `np.angle(stft(audio))`); default uniform random phase.
        seed: seed or generator for the random initial phase.
        progress: called with the number of frames finished after each block.
    Returns:
        float32 audio of `length` samples. Files longer than GL_BLOCK_FRAMES frames are
        processed in overlapping blocks; each block starts its overlap from the previous
        block's phase and the audio is cross-faded, so memory does not grow with the file.
    """
    magnitude = np.asarray(magnitude, dtype=np.float32)
    n_frames = n_frames_for(length)
    if magnitude.ndim != 2 or magnitude.shape != (N_BINS, n_frames):
        raise ValueError(f"magnitude must have shape ({N_BINS}, {n_frames}) for length {length}, "
                         f"got {magnitude.shape}")
    if n_iter < 0:
        raise ValueError(f"n_iter must be >= 0, got {n_iter}")
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"momentum must be in [0, 1), got {momentum}")
    if init_phase is not None and np.shape(init_phase) != magnitude.shape:
        raise ValueError(f"init_phase must have shape {magnitude.shape}, got {np.shape(init_phase)}")
    rng = np.random.default_rng(seed)
    out = np.zeros(length, dtype=np.float32)
    starts = _block_starts(n_frames, GL_BLOCK_FRAMES, GL_BLOCK_OVERLAP)
    carried: np.ndarray | None = None  # phase of the previous block over the shared frames
    fade_in = 0  # samples shared with the previous block
    for index, start in enumerate(starts):
        stop = min(start + GL_BLOCK_FRAMES, n_frames)
        is_last = index == len(starts) - 1
        block_length = length - start * HOP_LENGTH if is_last else (stop - 1 - start) * HOP_LENGTH
        if init_phase is not None:
            angles = np.exp(1j * np.asarray(init_phase[:, start:stop], dtype=np.float32))
        else:
            angles = np.exp(2j * np.pi * rng.random((N_BINS, stop - start), dtype=np.float32))
        angles = angles.astype(np.complex64)
        if carried is not None:
            angles[:, :carried.shape[1]] = carried
        audio, angles = _griffin_lim_block(magnitude[:, start:stop], angles, length=block_length,
                                           n_iter=n_iter, momentum=momentum)
        fade_out = 0
        if not is_last:
            carried = angles[:, starts[index + 1] - start:]
            fade_out = (stop - 1 - starts[index + 1]) * HOP_LENGTH
        offset = start * HOP_LENGTH
        out[offset:offset + block_length] += audio * _crossfade_weights(
            block_length, fade_in=fade_in, fade_out=fade_out)
        fade_in = fade_out
        if progress is not None:
            progress(n_frames if is_last else starts[index + 1])
    return out


def _block_starts(n_frames: int, block: int, overlap: int) -> list[int]:
    """Evenly spaced start frames of `block`-frame blocks covering `n_frames` frames, with
    neighbours sharing at least `overlap` frames.

    Even spacing keeps every shared span alike, and (for overlap < block / 2) keeps the
    cross-fade of one shared span clear of the next one's.
    """
    if n_frames <= block:
        return [0]
    count = 1 + -(-(n_frames - block) // (block - overlap))  # ceil division
    return [round(i * (n_frames - block) / (count - 1)) for i in range(count)]


def _crossfade_weights(n: int, *, fade_in: int, fade_out: int) -> np.ndarray:
    """Weights of length n that ramp up over the first `fade_in` and down over the last
    `fade_out` entries (0 = no ramp).

    The ramps of two neighbours that share k entries sum to exactly 1 there. Only the centre
    half of a shared span fades, so the edges of each block or window (where the zero padding
    of the centred STFT makes the estimate worse) get no weight at all.
    """
    weights = np.ones(n, dtype=np.float32)
    if fade_in:
        weights[:fade_in] *= _ramp(fade_in)
    if fade_out:
        weights[n - fade_out:] *= _ramp(fade_out)[::-1]
    return weights


@functools.lru_cache(maxsize=8)
def _ramp(overlap: int) -> np.ndarray:
    """Rising ramp of `overlap` points: 0 over the first quarter, 1 over the last, with
    ramp + ramp[::-1] == 1 everywhere."""
    position = (np.arange(overlap, dtype=np.float64) + 0.5) / overlap
    centred = np.clip((position - 0.25) * 2.0, 0.0, 1.0)
    ramp = 0.5 - 0.5 * np.cos(np.pi * centred)
    return ramp.astype(np.float32)


# --- Whole utterances <-> overlapping windows ----------------------------------------------
def window_starts(n_frames: int, *, overlap: int = WINDOW_OVERLAP) -> list[int]:
    """Start frames of the N_FRAMES-wide windows covering `n_frames` frames.

    Windows overlap by at least `overlap` frames; the last window ends at the last frame. A
    clip of at most N_FRAMES frames gets one window starting at 0.
    """
    if not 0 <= overlap < N_FRAMES // 2:
        raise ValueError(f"overlap must be in 0..{N_FRAMES // 2 - 1} frames, got {overlap}")
    return _block_starts(n_frames, N_FRAMES, overlap)


def utterance_to_windows(audio: np.ndarray, *, ref: float | None = None,
                         overlap: int = WINDOW_OVERLAP) -> tuple[np.ndarray, float]:
    """Forward transform of a whole utterance into overlapping padded images.

    Args:
        audio: mono float32 audio of L >= 1 samples at SAMPLE_RATE.
        ref: dB reference; default the whole clip's maximum magnitude (one reference for all
            windows, so they join without level jumps).
        overlap: frames shared by neighbouring windows.
    Returns:
        (windows, ref): float32 (N, IMAGE_SIZE, IMAGE_SIZE) in [-1, 1] with
        N = len(window_starts(1 + L // HOP_LENGTH)), and the reference used. A clip shorter
        than N_FRAMES frames is padded with PAD_VALUE (silence).
    """
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1 or audio.shape[0] < 1:
        raise ValueError(f"audio must be non-empty mono 1-D, got shape {audio.shape}")
    image, ref = magnitude_to_image(np.abs(stft(audio)), ref=ref)
    return split_windows(image, overlap=overlap), ref


def split_windows(image: np.ndarray, *, overlap: int = WINDOW_OVERLAP) -> np.ndarray:
    """Cut an unpadded (N_BINS, T) image into padded (N, IMAGE_SIZE, IMAGE_SIZE) windows."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 2 or image.shape[0] != N_BINS:
        raise ValueError(f"image must have shape ({N_BINS}, T), got {image.shape}")
    starts = window_starts(image.shape[1], overlap=overlap)
    return np.stack([pad_image(image[:, s:s + N_FRAMES]) for s in starts])


def join_windows(windows: np.ndarray, *, n_frames: int, overlap: int = WINDOW_OVERLAP
                 ) -> np.ndarray:
    """Inverse of `split_windows`: cross-fade (N, IMAGE_SIZE, IMAGE_SIZE) windows back into
    one (N_BINS, n_frames) float32 image.

    Over the frames two windows share, a raised-cosine cross-fade (over the centre half of the
    shared span) blends them, so identical windows join back exactly and converted windows
    join without an audible seam.
    """
    windows = np.asarray(windows, dtype=np.float32)
    starts = window_starts(n_frames, overlap=overlap)
    if windows.ndim != 3 or windows.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE) \
            or windows.shape[0] != len(starts):
        raise ValueError(f"expected {len(starts)} windows of shape ({IMAGE_SIZE}, {IMAGE_SIZE}) "
                         f"for {n_frames} frames, got {windows.shape}")
    if len(starts) == 1:
        return windows[0, :N_BINS, :n_frames].copy()
    joined = np.zeros((N_BINS, n_frames), dtype=np.float32)
    for index, start in enumerate(starts):
        fade_in = starts[index - 1] + N_FRAMES - start if index > 0 else 0
        fade_out = start + N_FRAMES - starts[index + 1] if index < len(starts) - 1 else 0
        weights = _crossfade_weights(N_FRAMES, fade_in=fade_in, fade_out=fade_out)
        joined[:, start:start + N_FRAMES] += windows[index, :N_BINS, :N_FRAMES] * weights
    return joined


def windows_to_utterance(windows: np.ndarray, *, ref: float, length: int,
                         overlap: int = WINDOW_OVERLAP, n_iter: int = GRIFFIN_LIM_ITERS,
                         momentum: float = GRIFFIN_LIM_MOMENTUM,
                         init_phase: np.ndarray | None = None,
                         seed: int | np.random.Generator | None = 0,
                         progress: Callable[[int], None] | None = None) -> np.ndarray:
    """Inverse of `utterance_to_windows`: windows -> float32 audio of exactly `length` samples.

    `init_phase` (radians, (N_BINS, 1 + length // HOP_LENGTH)), e.g. the source clip's
    `np.angle(stft(audio))`, starts Griffin-Lim from that phase; default random phase.
    """
    image = join_windows(windows, n_frames=n_frames_for(length), overlap=overlap)
    magnitude = image_to_magnitude(image, ref=ref)
    return griffin_lim(magnitude, length=length, n_iter=n_iter, momentum=momentum,
                       init_phase=init_phase, seed=seed, progress=progress)


PHASES = ("source", "random")  # Griffin-Lim's start: the input's own STFT phase, or random
WindowTransform = Callable[[np.ndarray, Callable[[float], None]], np.ndarray]


def round_trip(audio: np.ndarray, *, transform: WindowTransform | None = None,
               transform_share: float = 0.0, n_iter: int = GRIFFIN_LIM_ITERS,
               phase: str = "source", seed: int = 0,
               progress: Callable[[float], None] | None = None) -> np.ndarray:
    """Audio -> spectrogram windows -> `transform` -> Griffin-Lim -> audio: the one path from
    speech through the image representation and back, with or without a model.

    Args:
        audio: mono float32 audio at SAMPLE_RATE, L >= 1 samples, finite.
        transform: called as `transform(windows, report)` with float32 (N, IMAGE_SIZE,
            IMAGE_SIZE) windows in [-1, 1] (it may overwrite them) and a callback taking its
            own fraction done; returns windows of the same shape. None keeps the windows:
            the vocoder-only result, what the representation alone costs.
        transform_share: share of the run's time spent in `transform`, in [0, 1); only moves
            `progress` evenly.
        n_iter: Griffin-Lim iterations (0 = keep the initial phase).
        phase: 'source' starts Griffin-Lim from the input's own STFT phase (keeps timing and
            voice better); 'random' from random phase drawn with `seed`.
        seed: seed of the random initial phase.
        progress: called with the estimated fraction of the work done, in [0, 1].
    Returns:
        float32 audio of exactly L samples at SAMPLE_RATE, at the input's loudness (the
        windows share the input's dB reference, which maps the output back).
    """
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1 or audio.shape[0] < 1:
        raise ValueError(f"audio must be non-empty mono 1-D, got shape {audio.shape}")
    if not np.all(np.isfinite(audio)):
        raise ValueError("audio holds NaN or infinite samples")
    if phase not in PHASES:
        raise ValueError(f"phase must be one of {PHASES}, got {phase!r}")
    if n_iter < 0:
        raise ValueError(f"n_iter must be >= 0, got {n_iter}")
    if not 0.0 <= transform_share < 1.0:
        raise ValueError(f"transform_share must be in [0, 1), got {transform_share}")
    report = progress or (lambda fraction: None)
    share = transform_share if transform is not None else 0.0
    windows, ref = utterance_to_windows(audio)
    if transform is not None:
        windows = transform(windows, lambda fraction: report(share * fraction))
    n_frames = n_frames_for(audio.shape[0])
    init_phase = np.angle(stft(audio)) if phase == "source" else None
    result = windows_to_utterance(
        windows, ref=ref, length=audio.shape[0], n_iter=n_iter, init_phase=init_phase, seed=seed,
        progress=lambda frames: report(share + (1.0 - share) * frames / n_frames))
    report(1.0)
    return result
