"""convert.py: the conversion command end to end, with a tiny generator saved like training does."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest
import soundfile

import convert
from spectrogan.data import corpus
from spectrogan.core import errors
import evaluate
from spectrogan.conversion import inference
from spectrogan.stages import envelope_model
from spectrogan.model import numpy_generator
from spectrogan.model import runs
from spectrogan.audio.audio_files import load_audio
from spectrogan.data.corpus import STFT_SETTINGS
from spectrogan.audio.loudness import loudness_db
from spectrogan.audio.spectro import SAMPLE_RATE, utterance_to_windows

from conftest import REPO
from helpers import run_convert as _run, save_tiny_model, speech as _speech, speech_wav as _wav

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _save_run(root: Path, pair: str, source: str, target: str, **overrides) -> Path:
    """A run folder as train_cyclegan.py writes it, with a tiny generator per direction."""
    return save_tiny_model(root / pair, pair=pair, source=source, target=target, seed=0,
                           test_actors=[19, 20], epochs=1, **overrides)


@pytest.fixture(scope="module")
def models_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("models")
    _save_run(root, "calm2anger", "calm", "angry")
    return root




@pytest.mark.parametrize("seconds", [0.3, 4.0, 37.0])
def test_cli_converts_any_length(tmp_path, models_root, capsys, seconds):
    source = _wav(tmp_path / "speech.wav", seconds)
    code, out, err = _run(capsys, source, "--emotion", "anger", "--models", models_root)
    assert code == 0, err
    output = tmp_path / "speech_angry.wav"
    assert f"wrote {output}" in out
    info = soundfile.info(str(output))
    assert info.samplerate == SAMPLE_RATE
    assert info.frames == soundfile.info(str(source)).frames
    converted, _ = soundfile.read(str(output), dtype="float32")
    original, _ = soundfile.read(str(source), dtype="float32")
    assert np.all(np.isfinite(converted))
    assert np.max(np.abs(converted)) > 0
    assert np.sqrt(np.mean((converted - original) ** 2)) > 0.01 * np.sqrt(np.mean(original ** 2))


def test_convert_audio_api_is_batch_independent(models_root):
    converter = inference.load_converter(models_root, "calm", "anger")
    assert (converter.folder.name, converter.direction) == ("calm2anger", "AtoB")
    generator = converter.generator
    audio = _speech(13.0)  # 5 windows: batches 4 + 1 with batch_size=4
    seen = []
    one = inference.convert_audio(audio, generator, n_iter=4, batch_size=1)
    four = inference.convert_audio(audio, generator, n_iter=4, batch_size=4, progress=seen.append)
    assert one.shape == four.shape == audio.shape and one.dtype == np.float32
    np.testing.assert_allclose(one, four, atol=1e-4)
    assert seen == sorted(seen) and seen[-1] == 1.0 and 0.0 < seen[0] < 1.0
    random_phase = inference.convert_audio(audio, generator, n_iter=4, phase="random", seed=3)
    assert random_phase.shape == audio.shape and not np.allclose(random_phase, four)
    with pytest.raises(ValueError, match="phase"):
        inference.convert_audio(audio, generator, phase="zero")


def test_batch_sizes_cover_every_window_with_few_shapes():
    for count in range(0, 40):
        sizes = envelope_model.batch_sizes(count, 8)
        assert sum(sizes) == count and all(0 < s <= 8 for s in sizes)
        assert len(set(sizes)) <= 4 and all(s & (s - 1) == 0 for s in sizes)


def test_output_at_input_rate_keeps_length(tmp_path, models_root, capsys):
    source = _wav(tmp_path / "take.wav", 2.0, sr=22050)
    code, _, err = _run(capsys, source, "--emotion", "happy", "--source", "angry", "--models",
                        models_root, "--sr", "input", "--out-dir", tmp_path / "out", "--iters", 2)
    # angry -> happy has no model: the advice makes it (any pair trains), data first
    assert code == 2 and "no model for angry -> happy" in err
    assert "python data_prep.py --ravdess DIR --pair anger2happy" in err
    assert "python train_cyclegan.py --pair anger2happy --out" in err
    assert "trains only" not in err
    code, _, err = _run(capsys, source, "--emotion", "anger", "--models", models_root,
                        "--sr", "input", "--out-dir", tmp_path / "out", "--iters", 2)
    assert code == 0, err
    info = soundfile.info(str(tmp_path / "out" / "take_angry.wav"))
    assert (info.samplerate, info.frames) == (22050, soundfile.info(str(source)).frames)
    code, _, err = _run(capsys, source, "--emotion", "anger", "--models", models_root,
                        "-o", tmp_path / "default_rate.wav", "--iters", 2)
    assert code == 0, err
    info = soundfile.info(str(tmp_path / "default_rate.wav"))
    assert (info.samplerate, info.frames) == (SAMPLE_RATE, load_audio(source).shape[0])


def test_reverse_direction_uses_the_pairs_other_generator(tmp_path, models_root, capsys):
    source = _wav(tmp_path / "angry.wav", 1.0)
    model_dir, direction = runs.find_generator(models_root, "anger", "calm")
    assert (model_dir.name, direction) == ("calm2anger", "BtoA")
    code, _, err = _run(capsys, source, "--emotion", "calm", "--source", "anger", "--models",
                        models_root, "--iters", 2)
    assert code == 0, err
    assert "generator BtoA" in err and (tmp_path / "angry_calm.wav").is_file()


def test_batch_run_skips_a_corrupt_file(tmp_path, models_root, capsys):
    folder = tmp_path / "takes"
    good = [_wav(folder / f"take{i}.wav", 1.0 + i) for i in range(2)]
    (folder / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio")
    (folder / "notes.txt").write_text("not audio, not an input")
    code, _, err = _run(capsys, folder, "--emotion", "sad", "--models", models_root,
                        "--iters", 2)
    assert code == 2 and "calm2sad" in err  # no model for the pair: nothing written
    assert not list(folder.glob("*_sad.wav"))

    code, out, err = _run(capsys, folder, "--emotion", "anger", "--models", models_root,
                          "--iters", 2)
    assert code == 2  # an unusable input, as everywhere: the others are still converted
    assert "broken.wav: not audio, or in a format that cannot be read" in err
    assert "converted 2 of 3 file(s)" in err and "1 failed" in err
    for path in good:
        assert (folder / f"{path.stem}_angry.wav").is_file()
    assert not (folder / "broken_angry.wav").exists()
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == []  # no temp

    # A second run over the folder skips its own earlier outputs and refuses to overwrite.
    code, _, err = _run(capsys, folder, "--emotion", "anger", "--models", models_root,
                        "--iters", 2, "--out-dir", tmp_path / "again")
    assert "skipped 2 earlier output(s)" in err
    assert sorted(p.name for p in (tmp_path / "again").iterdir()) == ["take0_angry.wav",
                                                                      "take1_angry.wav"]


def test_quoted_glob_is_expanded(tmp_path, models_root, capsys):
    for name in ("a.wav", "b.wav", "c.flac"):
        _wav(tmp_path / name, 0.5)
    code, _, err = _run(capsys, tmp_path / "*.wav", "--emotion", "anger", "--models",
                        models_root, "--iters", 1)
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.glob("*_angry.wav")) == ["a_angry.wav", "b_angry.wav"]
    code, _, err = _run(capsys, tmp_path / "*.ogg", "--emotion", "anger", "--models",
                        models_root)
    assert code == 2 and "no audio file matches" in err


def test_never_overwrites_without_force(tmp_path, models_root, capsys):
    source = _wav(tmp_path / "speech.wav", 1.0)
    output = tmp_path / "speech_angry.wav"
    output.write_bytes(b"the user's own file")
    code, _, err = _run(capsys, source, "--emotion", "anger", "--models", models_root)
    assert code == 2 and "already exists; pass --force" in err
    assert output.read_bytes() == b"the user's own file"

    original = source.read_bytes()
    code, _, err = _run(capsys, source, "--emotion", "anger", "--models", models_root,
                        "-o", source, "--force")
    assert code == 2 and "refusing to overwrite the input" in err
    assert source.read_bytes() == original

    code, _, err = _run(capsys, source, "--emotion", "anger", "--models", models_root,
                        "--force", "--iters", 2)
    assert code == 0, err
    assert soundfile.info(str(output)).frames == soundfile.info(str(source)).frames
    assert source.read_bytes() == original


def test_plot_is_a_png(tmp_path, models_root, capsys):
    source = _wav(tmp_path / "speech.wav", 2.0)
    code, out, err = _run(capsys, source, "--emotion", "anger", "--models", models_root,
                          "-o", tmp_path / "result.wav", "--plot", "--iters", 2)
    assert code == 0, err
    plot = tmp_path / "result.png"
    assert plot.read_bytes()[:8] == PNG_SIGNATURE
    import matplotlib.image

    image = matplotlib.image.imread(str(plot))
    assert image.ndim == 3 and image.shape[0] > 300 and image.shape[1] > 300


def test_no_model_error_lists_pairs_and_train_command(tmp_path, models_root, capsys):
    source = _wav(tmp_path / "speech.wav", 0.5)
    code, _, err = _run(capsys, source, "--emotion", "fear", "--models", models_root)
    assert code == 2
    line = err.strip().splitlines()[-1]
    assert line.startswith("error: no model for calm -> fearful")
    assert "python data_prep.py --ravdess DIR --pair calm2fearful" in line
    assert f"python train_cyclegan.py --pair calm2fearful --out {models_root / 'calm2fearful'} " \
        in line and "trained pairs in" in line and line.endswith("calm2anger")
    code, _, err = _run(capsys, source, "--emotion", "anger", "--models", tmp_path / "nowhere")
    assert code == 2 and "does not exist" in err
    with pytest.raises(errors.UserError, match="calm2fearful"):
        runs.find_model_dir(models_root, "calm", "fearful")
    assert runs.find_model_dir(models_root, "calm", "anger") == models_root / "calm2anger"


def test_unknown_emotion_lists_choices(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        convert.main([str(tmp_path / "x.wav"), "--emotion", "grumpy"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'grumpy'" in err and "'anger'" in err and "'surprised'" in err
    assert convert.main([str(tmp_path / "x.wav"), "--emotion", "calm"]) == 2
    assert "both 'calm'" in capsys.readouterr().err


@pytest.mark.parametrize("kind, message", [
    ("missing", "no such file"),
    ("garbage", "not audio, or in a format that cannot be read"),
    ("empty", "holds no audio samples"),
    ("zeros", "silent input (every sample is zero)"),
    ("quiet", "silent input (peak -100.0 dBFS"),
    ("zero_bytes", "empty file (0 bytes)"),
    ("nan", "holds NaN or infinite samples"),  # these three: issue 56.8, once found late
    ("one_sample", "clip is too short"),
    ("ten_ms", "clip is too short (0.010 s)"),
    ("random_mp3", "not audio, or in a format that cannot be read"),
])
def test_bad_inputs_are_one_line_errors(tmp_path, models_root, capfd, monkeypatch, kind,
                                        message):
    # Every one is found before the slow model load.
    monkeypatch.setattr(convert, "load_converter", lambda *a, **k: pytest.fail("loaded"))
    path = tmp_path / (f"{kind}.mp3" if kind == "random_mp3" else f"{kind}.wav")
    if kind in ("garbage", "random_mp3"):
        path.write_bytes(np.random.default_rng(0).bytes(20000))
    elif kind in ("nan", "one_sample", "ten_ms"):
        samples = {"nan": np.array([0.1, np.nan, 0.2] * 4000), "one_sample": np.array([0.5]),
                   "ten_ms": np.full(160, 0.5)}[kind]
        soundfile.write(str(path), samples.astype(np.float32), SAMPLE_RATE, subtype="FLOAT")
    elif kind == "empty":
        soundfile.write(str(path), np.zeros(0, dtype=np.float32), SAMPLE_RATE)
    elif kind == "zero_bytes":
        path.write_bytes(b"")
    elif kind in ("zeros", "quiet"):
        level = 0.0 if kind == "zeros" else 1e-5
        soundfile.write(str(path), np.full(8000, level, dtype=np.float32), SAMPLE_RATE,
                        subtype="FLOAT")
    code, out, err = _run(capfd, path, "--emotion", "anger", "--models", models_root)
    assert code == 2
    # One line on the terminal, the decoder's own notes (written from C) included.
    assert err.strip().splitlines() == [f"error: {path}: " + err.split(f"{path}: ", 1)[1].strip()]
    assert message in err and "Traceback" not in err and "pipe" not in err
    assert not (tmp_path / f"{kind}_angry.wav").exists()


def test_a_full_disk_is_said_in_plain_words(tmp_path, models_root, capsys, monkeypatch):
    """Issue 56.8: libsndfile reports a full disk as 'System error.'; the run says 'disk full'
    in one line, exits 1 (a failure of the run, not the user's mistake) and leaves no file."""
    import collections
    import shutil as shutil_module

    from spectrogan.core import atomic_files

    source = _wav(tmp_path / "speech.wav", 0.5)
    real_write = soundfile.write

    def full_disk_write(file, *args, **kwargs):
        if str(file).endswith(".wav") and ".tmp-" in str(file):
            raise RuntimeError("Error opening file: System error.")
        return real_write(file, *args, **kwargs)

    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(soundfile, "write", full_disk_write)
    monkeypatch.setattr(atomic_files.shutil, "disk_usage", lambda path: usage(10, 10, 0))
    assert atomic_files.shutil is shutil_module
    code, _, err = _run(capsys, source, "--emotion", "anger", "--models", models_root,
                        "--iters", 1)
    assert code == 1
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "disk full" in errors[0] and "System error" not in err
    assert not (tmp_path / "speech_angry.wav").exists()
    assert not list(tmp_path.glob(".speech_angry*"))


def test_a_folder_that_accepts_no_files_is_said_so(tmp_path, models_root, capsys,
                                                   monkeypatch):
    """Issue 56.8: /proc answers 'no such file' for a folder that exists; the run says it
    cannot write there, not that the folder is missing."""
    import tempfile

    source = _wav(tmp_path / "speech.wav", 0.5)
    target = Path("/proc") if Path("/proc").is_dir() else tmp_path

    def refuse(*args, dir=None, **kwargs):
        raise FileNotFoundError(2, "No such file or directory")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    code, _, err = _run(capsys, source, "--emotion", "anger", "--models", models_root,
                        "-o", target / "c.wav")
    assert code == 1
    assert err.strip() == (f"error: {target / 'c.wav'}: cannot write there ({target}: it "
                           "accepts no new files)")


def test_unwritable_output_folder(tmp_path, models_root, capsys, monkeypatch):
    source = _wav(tmp_path / "speech.wav", 0.5)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    if os.geteuid() == 0:  # root may write anywhere: make the write probe meet the lock
        import tempfile

        real_mkstemp = tempfile.mkstemp

        def mkstemp(*args, dir=None, **kwargs):
            if dir is not None and Path(dir) == locked:
                raise PermissionError(13, "Permission denied")
            return real_mkstemp(*args, dir=dir, **kwargs)

        monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    try:
        code, _, err = _run(capsys, source, "--emotion", "anger", "--models", models_root,
                            "--out-dir", locked)
        assert code == 1 and f"--out-dir {locked}: cannot write there" in err
        code, _, err = _run(capsys, source, "--emotion", "anger", "--models", models_root,
                            "--out-dir", locked / "new" / "sub")
        assert code == 1 and "cannot write there" in err and "permission denied" in err
        code, _, err = _run(capsys, source, "--emotion", "anger", "--models", models_root,
                            "-o", locked / "out.wav")
        assert code == 1 and f"{locked / 'out.wav'}: cannot write there" in err
    finally:
        locked.chmod(0o755)
    assert list(locked.iterdir()) == []


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_an_output_nothing_can_be_written_to_is_named_before_any_work(tmp_path, models_root,
                                                                       capsys, monkeypatch):
    source = _wav(tmp_path / "base.wav", 0.5)
    monkeypatch.setattr(convert, "load_converter", lambda *a, **k: pytest.fail("loaded"))
    code, _, err = _run(capsys, source, "--emotion", "anger", "--models", models_root,
                        "-o", "/proc/nope/x.wav")
    assert code == 1 and err.startswith("error: /proc/nope/x.wav: cannot write there")
    assert "base.wav" not in err and "Traceback" not in err
    (tmp_path / "file").write_text("a file, not a folder")
    code, _, err = _run(capsys, source, "--emotion", "anger", "--models", models_root,
                        "-o", tmp_path / "file" / "x.wav")
    assert code == 2 and "is a file, not a folder" in err


def test_outputs_are_named_by_the_emotion_whatever_its_spelling(tmp_path, models_root, capsys):
    folder = tmp_path / "takes"
    _wav(folder / "take.wav", 0.5)
    code, out, err = _run(capsys, folder / "take.wav", "--emotion", "anger", "--models",
                          models_root, "--iters", 1)
    assert code == 0, err
    assert f"wrote {folder / 'take_angry.wav'}" in out
    code, out, err = _run(capsys, folder / "take.wav", "--emotion", "angry", "--models",
                          models_root, "--iters", 1, "--strength", "0.5")
    assert code == 0, err
    assert f"wrote {folder / 'take_angry_50.wav'}" in out
    assert inference.converted_name("take", "anger", strength=0.5) == "take_angry_50.wav"
    # Earlier outputs, in this scheme or the '_anger' spelling of earlier versions, are skipped.
    _wav(folder / "old_anger.wav", 0.5)
    code, out, err = _run(capsys, folder, "--emotion", "angry", "--models", models_root,
                          "--iters", 1, "--out-dir", tmp_path / "again")
    assert code == 0, err
    assert "skipped 3 earlier output(s)" in err
    assert [p.name for p in (tmp_path / "again").iterdir()] == ["take_angry.wav"]
    assert not inference.is_converted_name("angry_take.wav", "angry")
    assert inference.is_converted_name("take_FEAR.wav", "fearful")


def test_outputs_made_with_other_options_get_names_of_their_own(tmp_path, models_root, capsys):
    """Issue 56.9: --no-prosody or --level-change after a default run, and one stem in
    several formats, write names that say what differs instead of being refused."""
    folder = tmp_path / "takes"
    take = _wav(folder / "take.wav", 0.5)
    written = []
    for options in ([], ["--no-prosody"], ["--level-change", "model"],
                    ["--level-change", "-6"], ["--strength", "0.5", "--no-prosody"]):
        code, out, err = _run(capsys, take, "--emotion", "anger", "--models", models_root,
                              "--iters", 1, *options)
        assert code == 0, err
        written += [line.split()[1] for line in out.splitlines() if line.startswith("wrote ")]
    assert [Path(p).name for p in written] == [
        "take_angry.wav", "take_angry_noprosody.wav", "take_angry_levelmodel.wav",
        "take_angry_level-6dB.wav", "take_angry_50_noprosody.wav"]
    # All are recognised as earlier outputs when the folder is converted again.
    assert all(inference.is_converted_name(Path(p).name, "angry") for p in written)
    mixed = tmp_path / "mixed"
    speech = _speech(0.6)
    for ext in ("mp3", "flac", "ogg", "wav"):
        soundfile.write(str(mixed / f"ex.{ext}") if mixed.exists() else
                        (mixed.mkdir() or str(mixed / f"ex.{ext}")), speech, SAMPLE_RATE,
                        format={"mp3": "MP3", "flac": "FLAC", "ogg": "OGG",
                                "wav": "WAV"}[ext])
    code, out, err = _run(capsys, mixed, "--emotion", "anger", "--models", models_root,
                          "--iters", 1)
    assert code == 0, err
    assert sorted(p.name for p in mixed.glob("*_angry.wav")) == [
        "ex_flac_angry.wav", "ex_mp3_angry.wav", "ex_ogg_angry.wav", "ex_wav_angry.wav"]


def test_usage_mistakes(tmp_path, models_root, capsys):
    a, b = _wav(tmp_path / "a.wav", 0.5), _wav(tmp_path / "b.wav", 0.5)
    code, _, err = _run(capsys, a, b, "--emotion", "anger", "--models", models_root,
                        "-o", tmp_path / "one.wav")
    assert code == 2 and "takes exactly one input" in err
    code, _, err = _run(capsys, a, "--emotion", "anger", "-o", tmp_path / "one.mp3")
    assert code == 2 and "ending in .wav" in err
    code, _, err = _run(capsys, a, "--emotion", "anger", "--out-dir", a)
    assert code == 2 and "not a folder" in err
    same = tmp_path / "sub"
    _wav(same / "a.wav", 0.5)
    code, _, err = _run(capsys, a, same / "a.wav", "--emotion", "anger", "--models",
                        models_root, "--out-dir", tmp_path / "out", "--iters", 1)
    assert code == 2 and "writes this output too" in err
    assert (tmp_path / "out" / "a_angry.wav").is_file()


def test_model_from_other_stft_settings_is_refused(tmp_path, capsys):
    stft = dict(STFT_SETTINGS, hop_length=128)
    _save_run(tmp_path / "models", "calm2anger", "calm", "angry", stft=stft)
    source = _wav(tmp_path / "speech.wav", 0.5)
    code, _, err = _run(capsys, source, "--emotion", "anger", "--models", tmp_path / "models")
    assert code == 2 and "hop_length=128" in err and "retrain it" in err
    _save_run(tmp_path / "swapped", "calm2anger", "calm", "sad")
    code, _, err = _run(capsys, source, "--emotion", "anger", "--models", tmp_path / "swapped")
    assert code == 2 and "config.json says calm -> sad" in err


def test_bfloat16_generator_is_close_and_leaves_the_policy_alone(models_root):
    exact = inference.load_converter(models_root, "calm", "anger").generator
    fast = inference.load_converter(models_root, "calm", "anger", precision="bfloat16").generator
    assert keras.config.dtype_policy().name == "float32"
    assert isinstance(exact, numpy_generator.NumpyGenerator)  # float32: no Keras at all
    assert "bfloat16" in {layer.compute_dtype for layer in fast.layers}
    audio = _speech(2.0)
    windows, _ = utterance_to_windows(audio)
    a, b = envelope_model.run_generator(windows, exact), envelope_model.run_generator(windows, fast)
    assert a.dtype == b.dtype == np.float32
    assert 0 < np.abs(a - b).max() < 0.1  # bfloat16 keeps ~3 significant digits
    converted = inference.convert_audio(audio, fast, n_iter=2)
    assert converted.shape == audio.shape and np.all(np.isfinite(converted))
    with pytest.raises(ValueError, match="precision"):
        inference.load_converter(models_root, "calm", "anger", precision="int8")


def test_models_may_name_the_run_folder_itself(tmp_path, models_root, capsys):
    source = _wav(tmp_path / "speech.wav", 0.5)
    code, out, err = _run(capsys, source, "--emotion", "anger", "--models",
                          models_root / "calm2anger")
    assert code == 0, err
    code, _, err = _run(capsys, source, "--emotion", "sad", "--models",
                        models_root / "calm2anger", "--force")
    assert code == 2 and "run folder of another model (calm2anger), not of calm2sad" in err
    assert err.count("calm2anger/calm2anger") == 0
    # --list agrees with the conversion: the run folder itself is its model.
    code, out, err = _run(capsys, "--list", "--models", models_root / "calm2anger")
    assert code == 0, err
    assert "calm2anger" in out and "--emotion angry" in out


def test_menus_offer_only_what_exists_and_say_which_pairs_miss_their_goal(capsys):
    """Issue 56.10: --emotion's help names the emotions the shipped models reach (not calm or
    neutral, which none does), and --list marks each model whose test figures miss the
    voice-keeping goal."""
    from spectrogan.evaluation import reports

    with pytest.raises(SystemExit):
        convert.main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    options = text.split("options:", 1)[1]
    emotion_help = options.split("--emotion EMOTION", 1)[1].split("--list", 1)[0]
    shipped = [p for p in runs.model_folders(REPO / "results") if p.startswith("calm2")]
    for pair in shipped:
        assert corpus.parse_pair(pair)[2] in emotion_help
    assert "neutral" not in emotion_help and " calm," not in emotion_help
    code, out, err = _run(capsys, "--list")
    assert code == 0, err
    record = json.loads((REPO / "results" / "metrics.json").read_text())
    metrics = record["pairs"]
    for pair in shipped:
        line = next(line for line in out.splitlines() if line.strip().startswith(pair + " "))
        goals = [reports.voice_goal(metrics[pair]["systems"])] + [
            reports.voice_goal(part["pairs"][pair]["systems"])
            for part in (record.get("corpora") or {}).values() if pair in part["pairs"]]
        assert ("misses its goal" in line) == (not all(g["met"] for g in goals)), line


def test_griffin_lim_flags_on_a_world_model_are_said_to_do_nothing(tmp_path, models_root,
                                                                     capsys):
    """Issue 56.7: --iters and --phase change nothing on a WORLD model: the run says so."""
    world = save_tiny_model(tmp_path / "models" / "calm2anger", seed=3,
                            inference={"vocoder": "world"})
    take = _wav(tmp_path / "take.wav", 0.5)
    code, _, err = _run(capsys, take, "--emotion", "anger", "--models", world.parent,
                        "--iters", 64, "--phase", "random")
    assert code == 0, err
    notes = [line for line in err.splitlines() if "Griffin-Lim models only" in line]
    assert len(notes) == 1 and "--iters 64, --phase random" in notes[0] and "WORLD" in notes[0]
    # A Griffin-Lim model uses them: no note.
    code, _, err = _run(capsys, take, "--emotion", "anger", "--models", models_root,
                        "--iters", 2, "--out-dir", tmp_path / "gl")
    assert code == 0 and "Griffin-Lim models only" not in err
    with pytest.raises(SystemExit):
        convert.main(["--help"])
    assert "--iters 64" not in capsys.readouterr().out  # no example of a flag that does nothing


def test_a_run_without_a_finished_epoch_says_so(tmp_path, capsys):
    root = tmp_path / "models"
    runs.write_config(root / "calm2anger", {"pair": "calm2anger", "source": "calm",
                                              "target": "angry",
                                              "generator": {"filters": 4, "res_blocks": 1}})
    source = _wav(tmp_path / "speech.wav", 0.5)
    code, _, err = _run(capsys, source, "--emotion", "anger", "--models", root)
    assert code == 2 and "no finished epoch yet" in err and "--resume" in err
    assert runs.trained_pairs(root) == []


def test_a_quiet_input_keeps_its_loudness_with_a_hint(tmp_path, models_root, capsys):
    quiet = tmp_path / "quiet.wav"
    soundfile.write(str(quiet), 0.005 * _speech(0.5) / np.abs(_speech(0.5)).max(), SAMPLE_RATE,
                    subtype="FLOAT")  # peak -46 dBFS
    code, _, err = _run(capsys, quiet, "--emotion", "anger", "--models", models_root)
    assert code == 0 and "is quiet" in err and "--normalize" in err
    converted, _ = soundfile.read(str(tmp_path / "quiet_angry.wav"), dtype="float32")
    source, _ = soundfile.read(str(quiet), dtype="float32")
    assert loudness_db(converted) == pytest.approx(loudness_db(source), abs=1.0)


def test_a_float_input_above_full_scale_is_limited_not_clipped(tmp_path, models_root, capsys):
    loud = tmp_path / "loud.wav"
    soundfile.write(str(loud), 4.0 * _speech(0.5), SAMPLE_RATE, subtype="FLOAT")
    code, _, err = _run(capsys, loud, "--emotion", "anger", "--models", models_root)
    assert code == 0 and "above full scale" in err and "limited" in err
    converted, _ = soundfile.read(str(tmp_path / "loud_angry.wav"), dtype="float32")
    assert np.max(np.abs(converted)) < 1.0
    assert np.mean(np.abs(converted) > 0.98) < 0.01  # not a clipped square wave


def test_a_clipped_16_bit_file_is_not_reported_above_full_scale(tmp_path, models_root, capsys):
    rate = 44100
    t = np.arange(rate) / rate
    clipped = np.clip(3.0 * np.sin(2 * np.pi * 220.0 * t), -1.0, 1.0)  # square-ish, at 0 dBFS
    path = tmp_path / "clipped.wav"
    soundfile.write(str(path), clipped, rate, subtype="PCM_16")
    assert float(np.max(np.abs(load_audio(path)))) > 1.0  # resampling overshoots full scale
    code, _, err = _run(capsys, path, "--emotion", "anger", "--models", models_root,
                        "--iters", 1)
    assert code == 0, err
    assert "above full scale" not in err


# --- What a newcomer meets -----------------------------------------------------------------------
def test_the_shipped_models_are_found_from_any_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = convert._build_parser().parse_args(["speech.wav", "--emotion", "anger"])
    assert runs.find_model_dir(args.models, "calm", "angry") == REPO / "results" / "calm2anger"
    assert evaluate.build_parser().parse_args(["--all"]).models == REPO / "results"
    assert runs.RESULTS_DIR.is_absolute()
    # Records keep paths inside the project relative, so no machine's folders are committed.
    assert runs.recorded_path(REPO / "results" / "calm2anger") == "results/calm2anger"
    assert runs.recorded_path(tmp_path / "models") == str(tmp_path / "models")


def test_a_missing_pair_is_advised_with_data_prep_and_the_default_preset(models_root, capsys,
                                                                         tmp_path):
    code, _, err = _run(capsys, _wav(tmp_path / "a.wav", 0.5), "--emotion", "surprised",
                        "--models", models_root)
    assert code == 2
    assert "python data_prep.py --ravdess DIR --pair calm2surprised" in err
    assert "python train_cyclegan.py --pair calm2surprised" in err and "--preset" not in err
    assert "--time-budget" in err


def test_the_reverse_direction_without_its_generator_says_so(tmp_path, capsys):
    root = tmp_path / "shipped"
    run = save_tiny_model(root / "calm2anger", seed=0)
    runs.generator_path(run, "BtoA").unlink()  # as shipped: only calm -> angry
    code, _, err = _run(capsys, _wav(tmp_path / "angry.wav", 0.5), "--source", "anger",
                        "--emotion", "calm", "--models", root)
    assert code == 2
    assert "holds only the calm -> angry generator" in err
    assert "--pair anger2calm" in err


def test_a_smoke_run_folder_of_any_name_is_a_model_folder(models_root, tmp_path, capsys):
    smoke = tmp_path / "smoke"
    shutil.copytree(models_root / "calm2anger", smoke)
    assert runs.find_model_dir(smoke, "calm", "anger") == smoke
    code, _, err = _run(capsys, _wav(tmp_path / "a.wav", 0.5), "--emotion", "sad",
                        "--models", smoke)
    assert code == 2 and "run folder of another model (calm2anger), not of calm2sad" in err


def test_a_missing_input_is_reported_before_any_model_is_looked_for(tmp_path, capsys):
    code, _, err = _run(capsys, tmp_path / "missing.wav", "--emotion", "anger", "--models",
                        tmp_path / "no_models")
    assert code == 2
    assert "missing.wav: no such file" in err and "no model" not in err


def test_a_level_change_beyond_the_headroom_is_held_back_and_said(models_root, tmp_path,
                                                                  capsys):
    """Issue 56.1: --level-change on a clip peaking at -1 dBFS applies what its headroom
    allows, says so in one line, and writes no square wave."""
    loud = tmp_path / "loud.wav"
    speech = _speech(1.5)
    soundfile.write(str(loud), speech * (10 ** (-1 / 20) / np.abs(speech).max()), SAMPLE_RATE,
                    subtype="FLOAT")
    code, out, err = _run(capsys, loud, "--emotion", "anger", "--models", models_root,
                          "--level-change", "20", "--iters", 2)
    assert code == 0, err
    written, _ = soundfile.read(str(tmp_path / "loud_angry_level+20dB.wav"))
    assert np.mean(np.abs(written) >= 0.9) < 0.05
    notes = [line for line in err.splitlines() if "of the +20.0 dB asked" in line]
    assert len(notes) == 1 and notes[0].startswith("note: loud.wav: level changed ")
    assert "-0.0 dB" not in notes[0]


def test_normalize_and_the_resampling_note(models_root, tmp_path, capsys):
    quiet = tmp_path / "quiet.wav"
    rate = 44100
    stereo = np.stack([_speech(1.0 * rate / SAMPLE_RATE)] * 2, axis=1) * 0.01
    soundfile.write(str(quiet), stereo, rate, subtype="PCM_16")
    code, out, err = _run(capsys, quiet, "--emotion", "anger", "--models", models_root,
                          "--normalize", "--iters", 2)
    assert code == 0, err
    assert "from 44100 Hz stereo, resampled to 16000 Hz and mixed to mono" in out
    written, written_rate = soundfile.read(str(tmp_path / "quiet_angry_normalized.wav"))
    assert written_rate == SAMPLE_RATE
    # --normalize converts the input brought to a -1 dBFS peak, and the result keeps that
    # loudness (its speech level), peaks limited below full scale.
    loaded = load_audio(quiet)
    normalized = loaded * (10 ** (-1 / 20) / np.abs(loaded).max())
    assert loudness_db(written) == pytest.approx(loudness_db(normalized), abs=1.0)
    assert np.abs(written).max() < 1.0


@pytest.mark.slow
def test_ctrl_c_ends_a_conversion_with_130_and_nothing_else(tmp_path):
    """Issue 56.3: Ctrl-C during the model load (Keras importing) once landed in JAX's
    garbage-collection callback, was swallowed, and the run went on to exit 0. A TensorFlow
    run no longer imports JAX, and a conversion no longer imports Keras at all; whenever
    Ctrl-C comes, the run ends with 130, writes nothing and prints no traceback."""
    import signal
    import subprocess
    import sys
    import time

    env = {**os.environ, "KERAS_BACKEND": "tensorflow"}
    probe = subprocess.run([sys.executable, "-c", "import sys; from spectrogan.core import cli; "
                            "cli.import_keras(); print('jax' in sys.modules)"], cwd=REPO, env=env,
                           capture_output=True, text=True, timeout=120)
    assert probe.stdout.strip() == "False", probe.stderr
    clip = REPO / "examples" / "calm_speech.wav"
    for delay in (1.0, 2.5):  # in the work, and (often) as it ends
        output = tmp_path / f"out_{delay}.wav"
        run = subprocess.Popen([sys.executable, str(REPO / "convert.py"), str(clip),
                                "--emotion", "angry", "-o", str(output)], cwd=tmp_path,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
        time.sleep(delay)
        if run.poll() is not None:  # already done: nothing left to interrupt
            continue
        run.send_signal(signal.SIGINT)
        _, err = run.communicate(timeout=120)
        assert "Traceback" not in err and "Exception ignored" not in err, err
        # Interrupted: 130 and nothing written; or the work was already done (the signal
        # came while the interpreter exited): 0 and the whole file. Never a death by signal.
        assert (run.returncode, output.exists()) in ((130, False), (0, True)), err
