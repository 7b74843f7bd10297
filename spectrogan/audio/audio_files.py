"""Audio files: checking, reading and writing the recordings SpectroGAN converts.

Any format libsndfile reads (wav, flac, ogg, aiff, mp3), any rate, bit depth and channel
count comes in as mono float32 at spectro.SAMPLE_RATE (`load_audio`); results go out as 16-bit
wav, atomically (`write_audio`). `check_audio_file` and `file_peak` let a script refuse a bad
or silent input before any slow work, with one `AudioError` line that names the file.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from spectrogan.core.atomic_files import atomic_output, write_failure
from spectrogan.core.errors import UserError
from spectrogan.core.quiet import native_stderr_silenced
from spectrogan.audio.spectro import N_FFT, SAMPLE_RATE

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".aiff", ".aif", ".mp3")


class AudioError(UserError, ValueError):
    """An audio file that cannot be used: missing, unreadable, empty, too short or not finite."""


AUDIO_KINDS = "/".join(ext.lstrip(".") for ext in AUDIO_EXTENSIONS)  # for help and messages


def _not_audio(path: Path) -> AudioError:
    """The one line for a file libsndfile cannot decode (its own message, e.g. 'possibly a
    pipe?', describes its probe, not the file)."""
    return AudioError(f"{path}: not audio, or in a format that cannot be read (readable: "
                      f"{AUDIO_KINDS})")


def check_audio_file(path: str | os.PathLike) -> None:
    """Cheap checks of an input file before any slow work: AudioError when it is missing, a
    folder, not a readable audio file, empty, shorter than one STFT frame, or a truncated
    wav. Reads the header only; `load_audio` makes the same checks and the ones that need the
    samples (`file_peak` reads them too, in blocks)."""
    import soundfile

    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: no such file")
    if path.is_dir():
        raise AudioError(f"{path}: is a folder, not an audio file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: empty file (0 bytes)")
    try:
        with native_stderr_silenced():
            info = soundfile.info(str(path))
    except Exception:  # libsndfile reports every format problem as a RuntimeError
        raise _not_audio(path) from None
    if info.frames == 0:
        raise AudioError(f"{path}: the file holds no audio samples")
    check_long_enough(info.frames, sr=info.samplerate, name=path)
    missing = wav_missing_bytes(path)
    if missing:
        raise AudioError(f"{path}: truncated file (its header promises {missing} more bytes of "
                         "audio than it holds: an interrupted copy or download?); use a "
                         "complete copy")


def check_long_enough(frames: int, *, sr: int, name: str | os.PathLike) -> None:
    """AudioError when `frames` samples at `sr` Hz are shorter than one STFT frame (N_FFT
    samples at SAMPLE_RATE: 32 ms), too short to convert or analyse."""
    if frames * SAMPLE_RATE < N_FFT * sr:
        raise AudioError(
            f"{name}: clip is too short ({frames / sr:.3f} s); at least one STFT frame "
            f"({N_FFT} samples = {N_FFT / SAMPLE_RATE * 1000:.0f} ms) is needed")


def file_peak(path: str | os.PathLike) -> float:
    """The largest absolute sample of an audio file as stored: every channel, the file's own
    rate, nothing resampled (so a 16-bit file never reads above 1.0), read in blocks.
    AudioError when the file cannot be read or holds NaN or infinite samples."""
    import soundfile

    peak = 0.0
    try:
        with native_stderr_silenced(), soundfile.SoundFile(str(path)) as handle:
            for block in handle.blocks(blocksize=1 << 16, dtype="float32", always_2d=True):
                if block.size:
                    if not np.all(np.isfinite(block)):
                        raise AudioError(f"{path}: holds NaN or infinite samples")
                    peak = max(peak, float(np.max(np.abs(block))))
    except RuntimeError:  # libsndfile's errors (soundfile.LibsndfileError among them)
        raise _not_audio(Path(path)) from None
    return peak


def input_note(path: str | os.PathLike, *, sr: int = SAMPLE_RATE) -> str:
    """What converting `path` into a mono `sr` Hz result changed, for an output line: ' (from
    44100 Hz stereo, resampled to 16000 Hz and mixed to mono)', or '' when it was already mono
    at `sr`."""
    import soundfile

    try:
        info = soundfile.info(str(path))
    except Exception:  # noqa: BLE001 - only a note; load_audio reports unreadable files
        return ""
    changes = []
    if info.samplerate != sr:
        changes.append(f"resampled to {sr} Hz")
    if info.channels > 1:
        changes.append("mixed to mono")
    if not changes:
        return ""
    channels = {1: "mono", 2: "stereo"}.get(info.channels, f"{info.channels} channels")
    return f" (from {info.samplerate} Hz {channels}, {' and '.join(changes)})"


def load_audio(path: str | os.PathLike, *, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Read any audio file libsndfile reads (wav/flac/ogg/aiff/mp3, AUDIO_EXTENSIONS) as mono
    float32 at `sr` Hz.

    Accepts any sample rate, 8/16/24/32-bit integer or float samples and any channel count
    (channels are averaged). Returns a 1-D float32 array in roughly [-1, 1].

    Raises:
        AudioError: the file is missing, is not audio, holds no samples, is shorter than one
            STFT frame (N_FFT samples at `sr`), or holds NaN/inf samples. The message names
            the file and the problem.
    """
    import soundfile

    path = Path(path)
    check_audio_file(path)
    try:
        with native_stderr_silenced():
            data, file_sr = soundfile.read(str(path), dtype="float32", always_2d=True)
    except Exception:  # libsndfile reports every format problem as a RuntimeError
        raise _not_audio(path) from None
    if data.size == 0:
        raise AudioError(f"{path}: the file holds no audio samples")
    if not np.all(np.isfinite(data)):
        raise AudioError(f"{path}: holds NaN or infinite samples")
    audio = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if data.shape[1] > 1 and not np.any(audio) and np.any(data):
        raise AudioError(f"{path}: its {data.shape[1]} channels cancel out when mixed to mono "
                         "(one is the other inverted); export one channel and use that")
    if file_sr != sr:
        audio = resample(audio, orig_sr=file_sr, target_sr=sr)
    audio = np.ascontiguousarray(audio, dtype=np.float32)
    check_long_enough(audio.shape[0], sr=sr, name=path)
    return audio


def resample(audio: np.ndarray, *, orig_sr: int, target_sr: int,
             length: int | None = None) -> np.ndarray:
    """Mono float `audio` from `orig_sr` to `target_sr` Hz with soxr's high-quality filter
    (what librosa.resample's 'soxr_hq' runs), float32; with `length`, cut or zero-padded to
    exactly that many samples."""
    import soxr

    audio = np.asarray(audio, dtype=np.float32)
    if orig_sr != target_sr:
        audio = soxr.resample(audio, orig_sr, target_sr, quality="HQ").astype(np.float32,
                                                                               copy=False)
    if length is not None:
        audio = np.pad(audio[:length], (0, max(0, length - audio.shape[0])))
    return audio


def wav_missing_bytes(path: str | os.PathLike) -> int:
    """Bytes of audio a RIFF/WAVE file's `data` chunk header promises beyond the end of the
    file (0 for a complete file, for other formats and for headers that leave the size open,
    as streaming writers do with 0 or 0xFFFFFFFF). libsndfile reads such a file without
    complaint, silently shortened."""
    import struct

    with open(path, "rb") as handle:
        head = handle.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return 0
        size = Path(path).stat().st_size
        while True:
            chunk = handle.read(8)
            if len(chunk) < 8:
                return 0
            name, length = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if name == b"data":
                if length in (0, 0xFFFFFFFF):
                    return 0
                return max(0, handle.tell() + length - size)
            handle.seek(length + (length & 1), os.SEEK_CUR)


def write_audio(path: str | os.PathLike, audio: np.ndarray, *, sr: int = SAMPLE_RATE) -> Path:
    """Write mono float audio as 16-bit PCM wav atomically (temp file, then rename).

    Samples outside [-1, 1] are clipped. Returns the written path. A refused write (a full
    disk, a folder gone) is an OSError that says so (`atomic_files.write_failure`).
    """
    import soundfile

    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError(f"write_audio expects mono 1-D audio, got shape {audio.shape}")
    try:
        with atomic_output(path) as tmp:
            soundfile.write(str(tmp), np.clip(audio, -1.0, 1.0), sr, subtype="PCM_16",
                            format="WAV")
    except (OSError, RuntimeError) as exc:  # libsndfile's errors are RuntimeErrors
        raise write_failure(path, exc) from None
    return Path(path)
