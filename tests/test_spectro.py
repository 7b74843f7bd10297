"""Tests of the audio <-> spectrogram image core (spectro.py) on synthetic audio."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from spectrogan.audio import audio_files
from spectrogan.evaluation import metrics
from spectrogan.audio import plots
import resynthesis
from spectrogan.audio import spectro
from spectrogan.audio.spectro import IMAGE_SIZE

from conftest import RAVDESS_DIR, chirp, needs_ravdess, tone
from helpers import comb

SR = spectro.SAMPLE_RATE


def test_constants_are_consistent():
    assert spectro.N_BINS == spectro.N_FFT // 2 + 1 == 257
    assert spectro.IMAGE_SIZE >= max(spectro.N_BINS, spectro.N_FRAMES)
    assert spectro.IMAGE_SIZE % 4 == 0


def test_image_round_trip_shape_dtype_range(rng):
    audio = chirp(3.0) + 0.01 * rng.standard_normal(48000).astype(np.float32)
    image, ref = spectro.audio_to_image(audio)
    assert image.shape == (spectro.IMAGE_SIZE, spectro.IMAGE_SIZE)
    assert image.dtype == np.float32
    assert image.min() >= -1.0 and image.max() <= 1.0
    assert image.max() == pytest.approx(1.0)  # default reference is the clip's own maximum
    magnitude = np.abs(spectro.stft(audio))
    assert ref == pytest.approx(float(magnitude.max()))
    back = spectro.image_to_magnitude(spectro.crop_image(image, n_frames=magnitude.shape[1]),
                                      ref=ref)
    above_floor = magnitude > ref * 10 ** (-spectro.TOP_DB / 20) * 1.01
    np.testing.assert_allclose(back[above_floor], magnitude[above_floor], rtol=1e-4)
    # Below the floor everything maps to the floor magnitude, never to zero or NaN.
    assert np.all(back[~above_floor] == pytest.approx(ref * 10 ** (-spectro.TOP_DB / 20),
                                                      rel=1e-4))


def test_explicit_reference_is_respected():
    audio = tone(1.0)
    image_own, ref_own = spectro.audio_to_image(audio)
    image_louder_ref, ref = spectro.audio_to_image(audio, ref=ref_own * 10.0)  # +20 dB
    assert ref == pytest.approx(ref_own * 10.0)
    # 20 dB lower on an 80 dB range is 0.5 lower in image units, where not floored.
    mask = image_louder_ref[:257, :63] > -0.9
    np.testing.assert_allclose(image_own[:257, :63][mask] - image_louder_ref[:257, :63][mask],
                               0.5, atol=1e-5)


def test_padding_value_is_floor():
    audio = tone(0.5)  # 32 frames
    image, _ = spectro.audio_to_image(audio)
    frames = spectro.n_frames_for(len(audio))
    assert np.all(image[spectro.N_BINS:, :] == spectro.PAD_VALUE)
    assert np.all(image[:, frames:] == spectro.PAD_VALUE)
    assert image[:spectro.N_BINS, :frames].max() == pytest.approx(1.0)


def test_transform_input_checks_name_the_bad_value():
    with pytest.raises(ValueError, match=r"\(257, T\), got \(10, 5\)"):
        spectro.magnitude_to_image(np.ones((10, 5)))
    with pytest.raises(ValueError, match="ref must be positive, got -1"):
        spectro.image_to_magnitude(np.zeros((257, 3)), ref=-1)
    with pytest.raises(ValueError, match="utterance_to_windows"):
        spectro.audio_to_image(np.zeros(5 * SR, dtype=np.float32))
    with pytest.raises(ValueError, match="momentum"):
        spectro.griffin_lim(np.ones((257, 4)), length=3 * 256, momentum=1.5)


@pytest.mark.parametrize("seconds", [0.3, 4.1, 37.0])
def test_utterance_length_is_sample_exact(seconds, rng):
    audio = chirp(seconds) + 0.005 * rng.standard_normal(int(round(seconds * SR))).astype(np.float32)
    windows, ref = spectro.utterance_to_windows(audio)
    assert windows.dtype == np.float32 and windows.shape[1:] == (260, 260)
    out = spectro.windows_to_utterance(windows, ref=ref, length=len(audio), n_iter=4,
                                       init_phase=np.angle(spectro.stft(audio)))
    assert out.shape == audio.shape and out.dtype == np.float32
    assert np.all(np.isfinite(out))
    # From the source phase with an unchanged magnitude the waveform comes back closely.
    assert metrics.spectral_convergence_db(audio, out) < -25


def test_window_count_grows_with_length():
    assert len(spectro.window_starts(10)) == 1
    assert len(spectro.window_starts(257)) == 1
    starts = spectro.window_starts(2000)
    assert starts[0] == 0 and starts[-1] == 2000 - spectro.N_FRAMES
    gaps = np.diff(starts)
    assert np.all(spectro.N_FRAMES - gaps >= spectro.WINDOW_OVERLAP)  # enough overlap


def test_windowed_join_has_no_seam(rng):
    """A pointwise change applied per window must equal the change applied in one piece,
    also across the seams between windows."""
    audio = chirp(12.0, f0=100, f1=6000) + 0.01 * rng.standard_normal(12 * SR).astype(np.float32)
    image, ref = spectro.magnitude_to_image(np.abs(spectro.stft(audio)))
    windows = spectro.split_windows(image)
    assert len(windows) >= 3

    def darken(x):
        return np.tanh(1.3 * x - 0.2)

    joined = spectro.join_windows(darken(windows), n_frames=image.shape[1])
    whole = darken(image)
    starts = spectro.window_starts(image.shape[1])
    for start in starts[1:]:
        seam = slice(start, start + spectro.WINDOW_OVERLAP)
        np.testing.assert_allclose(joined[:, seam], whole[:, seam], atol=1e-5)


def test_griffin_lim_blocks_leave_no_seam(monkeypatch, rng):
    """Block-wise Griffin-Lim around a block seam is as good as one-block Griffin-Lim there."""
    audio = chirp(8.0, f0=200, f1=4000) + 0.01 * rng.standard_normal(8 * SR).astype(np.float32)
    magnitude = np.abs(spectro.stft(audio))
    one_block = spectro.griffin_lim(magnitude, length=len(audio), n_iter=16, seed=3)
    monkeypatch.setattr(spectro, "GL_BLOCK_FRAMES", 200)
    blocks = spectro.griffin_lim(magnitude, length=len(audio), n_iter=16, seed=3)
    assert blocks.shape == one_block.shape and np.all(np.isfinite(blocks))
    starts = spectro._block_starts(magnitude.shape[1], 200, spectro.GL_BLOCK_OVERLAP)
    assert len(starts) >= 3
    for start in starts[1:]:
        # The shared span of two blocks plus a margin, in samples.
        lo = max(0, (start - 20) * spectro.HOP_LENGTH)
        hi = (start + spectro.GL_BLOCK_OVERLAP + 20) * spectro.HOP_LENGTH
        seam_sc = metrics.spectral_convergence_db(audio[lo:hi], blocks[lo:hi])
        whole_sc = metrics.spectral_convergence_db(audio[lo:hi], one_block[lo:hi])
        assert seam_sc < whole_sc + 3.0, (start, seam_sc, whole_sc)
        # No click: the largest sample step at the seam is no bigger than the signal's own.
        step_at_seam = np.abs(np.diff(blocks[lo:hi])).max()
        assert step_at_seam < 1.5 * np.abs(np.diff(audio)).max()


def test_griffin_lim_output_is_finite_real_and_source_phase_wins(rng):
    audio = chirp(2.0) + 0.3 * tone(2.0, 330) + 0.01 * rng.standard_normal(2 * SR).astype(np.float32)
    spectrum = spectro.stft(audio)
    magnitude = np.abs(spectrum)
    random_start = spectro.griffin_lim(magnitude, length=len(audio), n_iter=32, seed=0)
    source_start = spectro.griffin_lim(magnitude, length=len(audio), n_iter=32,
                                       init_phase=np.angle(spectrum))
    for out in (random_start, source_start):
        assert out.dtype == np.float32 and np.isrealobj(out) and np.all(np.isfinite(out))
        assert out.shape == audio.shape
    sc_random = metrics.spectral_convergence_db(audio, random_start)
    sc_source = metrics.spectral_convergence_db(audio, source_start)
    assert sc_source < sc_random - 10.0, (sc_source, sc_random)


def test_more_iterations_converge_further(rng):
    audio = chirp(1.5) + 0.01 * rng.standard_normal(24000).astype(np.float32)
    magnitude = np.abs(spectro.stft(audio))
    sc = [metrics.spectral_convergence_db(
        audio, spectro.griffin_lim(magnitude, length=len(audio), n_iter=n, seed=1))
        for n in (2, 32)]
    assert sc[1] < sc[0] - 3.0, sc


# --- Loading -------------------------------------------------------------------------------
@pytest.mark.parametrize("subtype,rate,channels", [
    ("PCM_16", 16000, 1), ("PCM_16", 48000, 2), ("PCM_U8", 22050, 1), ("PCM_24", 44100, 1),
    ("FLOAT", 8000, 3)])
def test_load_audio_formats(tmp_path, subtype, rate, channels):
    seconds = 0.5
    t = np.arange(int(seconds * rate)) / rate
    mono = 0.4 * np.sin(2 * np.pi * 440 * t)
    data = np.stack([mono] * channels, axis=1)
    path = tmp_path / f"x_{subtype}_{rate}.wav"
    soundfile.write(path, data, rate, subtype=subtype)
    audio = audio_files.load_audio(path)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(len(audio) - seconds * SR) <= 2
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    peak_hz = np.argmax(spectrum) * SR / len(audio)
    assert abs(peak_hz - 440) < 5
    assert 0.3 < np.abs(audio).max() < 0.5  # channels averaged, not summed


@pytest.mark.parametrize("fmt,subtype", [("FLAC", "PCM_16"), ("OGG", "VORBIS")])
def test_load_audio_flac_and_ogg(tmp_path, fmt, subtype):
    path = tmp_path / f"x.{fmt.lower()}"
    soundfile.write(path, tone(0.5, sr=22050), 22050, format=fmt, subtype=subtype)
    assert len(audio_files.load_audio(path)) == pytest.approx(8000, abs=2)


def _write_raw(path, data, rate=16000, subtype="PCM_16"):
    soundfile.write(path, data, rate, subtype=subtype)
    return path


@pytest.mark.parametrize("case,message", [
    ("missing", "no such file"),
    ("folder", "is a folder"),
    ("not_audio", "not audio, or in a format that cannot be read"),
    ("empty", "holds no audio samples"),
    ("too_short", "too short"),
    ("nan", "NaN or infinite"),
])
def test_load_audio_bad_inputs(tmp_path, case, message):
    path = tmp_path / f"{case}.wav"
    if case == "folder":
        path.mkdir()
    elif case == "not_audio":
        path.write_text("this is not audio\n")
    elif case == "empty":
        _write_raw(path, np.zeros(0, dtype=np.float32))
    elif case == "too_short":
        _write_raw(path, np.zeros(100, dtype=np.float32))
    elif case == "nan":
        data = np.zeros(4000, dtype=np.float32)
        data[10] = np.nan
        _write_raw(path, data, subtype="FLOAT")
    with pytest.raises(audio_files.AudioError, match=message) as info:
        audio_files.load_audio(path)
    text = str(info.value)
    assert str(path) in text and "\n" not in text


# --- Writing -------------------------------------------------------------------------------
def test_write_audio_is_atomic(tmp_path, monkeypatch):
    target = tmp_path / "out.wav"
    audio_files.write_audio(target, tone(0.2))
    before = target.read_bytes()

    def broken_write(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(soundfile, "write", broken_write)
    with pytest.raises(OSError):
        audio_files.write_audio(target, tone(0.3))
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.wav"]


# --- Command line --------------------------------------------------------------------------
def test_cli_resynthesis_and_plot(tmp_path, capsys):
    source = tmp_path / "in.wav"
    soundfile.write(source, np.stack([chirp(1.2, sr=44100)] * 2, axis=1), 44100)
    output, plot = tmp_path / "out.wav", tmp_path / "spec.png"
    assert resynthesis.main([str(source), "-o", str(output), "--iters", "8",
                         "--plot", str(plot)]) == 0
    data, rate = soundfile.read(output)
    assert rate == SR and len(data) == len(audio_files.load_audio(source))
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "spectral convergence" in capsys.readouterr().out
    # An existing output is kept unless --force.
    assert resynthesis.main([str(source), "-o", str(output)]) == 2
    assert "--force" in capsys.readouterr().err
    assert resynthesis.main([str(source), "-o", str(output), "--force", "--phase", "random",
                         "--iters", "2"]) == 0


@pytest.mark.parametrize("argv,message", [
    (["missing.wav", "-o", "x.wav"], "no such file"),
    (["in.wav", "-o", "in.wav"], "refusing to overwrite the input"),
    (["in.wav", "-o", "y.wav", "--iters", "-3"], "--iters must be >= 0"),
])
def test_cli_errors_are_one_line(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    soundfile.write(tmp_path / "in.wav", tone(0.5), SR)
    assert resynthesis.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and err.startswith("error:") and "\n" not in err
    assert not (tmp_path / "y.wav").exists()


@needs_ravdess
def test_ravdess_clip_resynthesis_quality():
    clip = RAVDESS_DIR / "Actor_01" / "03-01-02-01-01-01-01.wav"
    audio = audio_files.load_audio(clip)
    windows, ref = spectro.utterance_to_windows(audio)
    out = spectro.windows_to_utterance(windows, ref=ref, length=len(audio),
                                       init_phase=np.angle(spectro.stft(audio)))
    assert len(out) == len(audio)
    assert metrics.spectral_convergence_db(audio, out) < -20


@pytest.mark.parametrize("tail", [0, 100, 200, 255])
def test_griffin_lim_has_no_click_at_the_tail(tail, rng):
    """Whatever the length modulo the hop, the last samples stay as quiet as the input's."""
    length = 2 * SR + tail
    audio = chirp(length / SR)[:length] * np.hanning(length).astype(np.float32)
    audio += 0.001 * rng.standard_normal(length).astype(np.float32)
    out = spectro.griffin_lim(np.abs(spectro.stft(audio)), length=length, n_iter=32, seed=0)
    assert np.abs(out[-300:]).max() < 5 * np.abs(audio[-300:]).max() + 1e-3
    assert np.abs(out).max() < 2 * np.abs(audio).max()


def test_cli_file_system_failure_is_one_line(tmp_path, monkeypatch, capsys):
    soundfile.write(tmp_path / "in.wav", tone(0.5), SR)

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device", str(tmp_path / "out.wav"))

    monkeypatch.setattr(resynthesis, "write_audio", disk_full)
    assert resynthesis.main([str(tmp_path / "in.wav"), "-o", str(tmp_path / "out.wav"),
                             "--iters", "1"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "No space left on device" in err and "\n" not in err
    assert not (tmp_path / "out.wav").exists()


def test_plots_can_show_a_low_band_side_by_side(tmp_path):
    image = np.linspace(-1, 1, spectro.N_BINS * 20, dtype=np.float32).reshape(spectro.N_BINS, 20)
    path = plots.plot_spectrograms(tmp_path / "low.png", [("a", image), ("b", image)],
                                     max_hz=1200, side_by_side=True)
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(ValueError, match="max_hz"):
        plots.plot_spectrograms(tmp_path / "bad.png", [("a", image)], max_hz=9000)
    assert not (tmp_path / "bad.png").exists()


# --- The envelope projection ---------------------------------------------------------------------
def test_envelope_projection_is_an_orthogonal_projection_onto_smooth_columns():
    projection = spectro.envelope_projection(IMAGE_SIZE, coefficients=24)
    assert projection.shape == (IMAGE_SIZE, IMAGE_SIZE) and projection.dtype == np.float32
    np.testing.assert_allclose(projection, projection.T, atol=1e-6)
    np.testing.assert_allclose(projection @ projection, projection, atol=1e-5)
    assert np.trace(projection) == pytest.approx(24, abs=1e-3)  # its rank
    rows = np.arange(IMAGE_SIZE)
    level_and_tilt = 0.3 - 0.002 * rows  # a level change and a spectral tilt: kept
    np.testing.assert_allclose(projection @ level_and_tilt, level_and_tilt, atol=5e-3)
    formant = np.exp(-0.5 * ((rows - 40) / 12.0) ** 2)  # a broad formant bump: kept
    assert np.abs(projection @ formant - formant).max() < 0.05
    harmonics = comb(IMAGE_SIZE, 3)  # a 94 Hz voice's harmonics, 3 bins apart: dropped
    assert np.linalg.norm(projection @ harmonics) < 0.03 * np.linalg.norm(harmonics)
    np.testing.assert_allclose(spectro.envelope_projection(16, coefficients=16), np.eye(16),
                               atol=1e-5)


@pytest.mark.parametrize("n_bins, coefficients", [(0, 1), (10, 0), (10, 11)])
def test_envelope_projection_rejects_bad_sizes(n_bins, coefficients):
    with pytest.raises(ValueError, match=str(coefficients) if n_bins else "n_bins"):
        spectro.envelope_projection(n_bins, coefficients=coefficients)
