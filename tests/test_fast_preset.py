"""The fast preset's pieces: identity-start generators, random time crops, the preset round trip
through config / resume / convert, the time budget, and the run-folder safety around them
(tiny models and synthetic data throughout)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import keras

import corpus
import batches
import trainer
import cyclegan as cg
import inference
import metrics
import model_files
import models
import runs
import spectro
import train_cyclegan as tc
from errors import UserError
from conftest import tone
from settings import PRESETS
from spectro import IMAGE_SIZE, PAD_VALUE

from helpers import FAST_TINY, TINY


# --- Identity start -------------------------------------------------------------------------
def test_a_fresh_identity_start_generator_returns_its_input():
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (2, 32, 48, 1)).astype(np.float32)
    images[0, :, :8] = PAD_VALUE  # the floor must survive too
    keras.utils.set_random_seed(1)
    generator = models.build_generator((32, None, 1), filters=4, res_blocks=1,
                                       identity_start=True)
    output = np.asarray(generator(images))
    assert output.shape == images.shape
    np.testing.assert_allclose(output, images, atol=2 * models.IDENTITY_EPSILON)
    assert np.all(np.abs(output) < 1)
    # The paper's generator draws a new image: far from its input when fresh.
    plain = models.build_generator((32, None, 1), filters=4, res_blocks=1)
    assert np.mean(np.abs(np.asarray(plain(images)) - images)) > 0.2


def test_identity_start_gradients_reach_every_layer():
    generator = models.build_generator((32, 32, 1), filters=4, res_blocks=1,
                                       identity_start=True)
    images = np.random.default_rng(2).uniform(-0.9, 0.9, (1, 32, 32, 1)).astype(np.float32)
    target = np.clip(images + 0.3, -1, 1)
    optimizer = keras.optimizers.Adam(1e-2)
    first = np.mean(np.abs(np.asarray(generator(images)) - target))
    for _ in range(20):
        _train_one(generator, optimizer, images, target)
    assert np.mean(np.abs(np.asarray(generator(images)) - target)) < 0.8 * first


def _train_one(generator, optimizer, images, target):
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = keras.ops.mean(keras.ops.abs(generator(images, training=True) - target))
        grads = tape.gradient(loss, generator.trainable_variables)
        optimizer.apply(grads, generator.trainable_variables)
    else:  # the suite runs on TensorFlow (the default backend)
        pytest.skip(f"gradient check written for TensorFlow, not {backend}")


def test_converting_with_a_fresh_identity_start_model_is_the_vocoder_only_result(tmp_path):
    run = tmp_path / "calm2anger"
    runs.write_config(run, {"pair": "calm2anger", "image_size": IMAGE_SIZE,
                              "generator": {"filters": 4, "res_blocks": 1,
                                            "identity_start": True}})
    model_files.save_generator(models.build_generator((IMAGE_SIZE, IMAGE_SIZE, 1), filters=4,
                                                 res_blocks=1, identity_start=True),
                          run, "AtoB", dtype="float16")
    generator = model_files.load_generator(run)  # the path convert.py uses
    audio = tone(1.5, 180.0)
    converted = inference.convert_audio(audio, generator)
    vocoded = spectro.round_trip(audio)
    assert metrics.mcd_dtw(vocoded, converted) < 0.1


# --- Crops ----------------------------------------------------------------------------------
def test_content_frames_finds_the_end_of_the_sound():
    images = np.full((3, 8, 20), PAD_VALUE, np.float16)
    images[0, 2, :13] = 0.0
    images[1, :, 19] = 0.5
    assert batches.content_frames(images).tolist() == [13, 20, 0]


def test_crops_have_the_asked_width_lie_in_the_sound_and_change_every_step():
    rng = np.random.default_rng(5)
    lengths = [60, 16, 10]
    images = np.full((3, 12, 64), PAD_VALUE, np.float16)
    for index, length in enumerate(lengths):
        images[index, :, :length] = rng.uniform(-0.9, 0.9, (12, length))
    stream = batches.UnpairedBatches(images, images[::-1].copy(), batch_size=2, steps_per_epoch=3,
                                seed=0, crop_frames=16)
    starts = {index: set() for index in range(3)}
    for step in range(30):
        batch_A, batch_B = stream[step]
        assert batch_A.shape == batch_B.shape == (2, 12, 16, 1)
        assert batch_A.dtype == np.float32
        np.testing.assert_array_equal(stream[step][0], batch_A)  # a pure function of the index
        for crop in batch_A[..., 0]:
            found = [(index, start) for index in range(3) for start in range(64 - 16 + 1)
                     if np.array_equal(images[index, :, start:start + 16].astype(np.float32),
                                       crop)]
            assert found, "a crop must be a slice of a training image"
            index, start = found[0]
            assert start <= max(lengths[index] - 16, 0)  # inside the sound when it fits
            starts[index].add(start)
    assert len(starts[0]) > 5 and starts[1] == {0} and starts[2] == {0}


def test_bad_crop_settings_are_one_line_usage_errors(data_dir, tmp_path, capsys):
    for value in ("30", "264", "-4"):
        assert tc.main(["--pair", "calm2anger", "--data-dir", str(data_dir), "--out",
                        str(tmp_path / value), "--crop-frames", value, *TINY]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "--crop-frames must be 0" in err[0]
        assert not (tmp_path / value).exists()


# --- The preset through config, resume and convert ------------------------------------------


@pytest.mark.slow
def test_fast_preset_round_trip_through_config_resume_and_convert(data_dir, fast_tiny_run,
                                                                  tmp_path, capsys):
    out = tmp_path / "run"
    shutil.copytree(fast_tiny_run[0], out)  # one epoch of FAST_TINY, as `tc.main` leaves it
    base = [*FAST_TINY, "--data-dir", str(data_dir), "--out", str(out)]
    config = runs.read_config(out)
    training = config["training"]
    assert training["preset"] == "fast" and training["crop_frames"] == 16
    assert training["identity_start"] is True and config["generator"]["identity_start"] is True
    assert training["filters"] == 4  # a flag overrides its preset's value
    # Resuming with another preset is refused, without touching the run.
    log = (out / runs.LOG_NAME).read_text()
    assert tc.main([*base, "--epochs", "2", "--resume", "--preset", "original"]) == 2
    assert "used --preset fast, not original" in capsys.readouterr().err
    assert (out / runs.LOG_NAME).read_text() == log
    # Resuming without naming the preset takes the stored one.
    resume = ["--pair", "calm2anger", "--data-dir", str(data_dir), "--out", str(out),
              "--epochs", "2", "--resume", "--quiet"]
    assert tc.main(resume) == 0
    assert runs.read_config(out)["training"]["crop_frames"] == 16
    assert [row.split(",")[0] for row in (out / runs.LOG_NAME).read_text().split()[1:]] == \
        ["1", "2"]
    # Inference rebuilds the identity-start generator from config.json and converts whole
    # windows although training saw 16-frame crops.
    generator = model_files.load_generator(out)
    assert generator.get_layer("input_logits") is not None
    image = np.random.default_rng(0).uniform(-1, 1, (1, IMAGE_SIZE, IMAGE_SIZE, 1))
    assert np.asarray(generator(image.astype(np.float32))).shape == image.shape


def test_the_preset_defaults_fill_what_no_flag_sets(data_dir, tmp_path):
    parser = tc.build_parser()
    args = parser.parse_args(["--pair", "calm2anger", "--preset", "fast", "--out",
                              str(tmp_path)])
    settings = tc.resolve_settings(args, None).as_dict()
    for name, value in PRESETS["fast"].items():
        assert settings[name] == value, name
    original = tc.resolve_settings(parser.parse_args(["--pair", "calm2anger", "--preset",
                                                      "original"]), None).as_dict()
    assert original["crop_frames"] == 0 and original["identity_start"] is False
    assert original["filters"] == 64 and original["res_blocks"] == 6


# --- Time budget ----------------------------------------------------------------------------
@pytest.mark.slow
def test_time_budget_stops_after_the_epoch_and_saves_it_as_the_last(data_dir, tmp_path, capsys):
    out = tmp_path / "run"
    assert tc.main([*FAST_TINY, "--data-dir", str(data_dir), "--out", str(out), "--epochs", "50",
                    "--time-budget", "0.01", "--snapshot-every", "10",
                    "--checkpoint-every", "10"]) == 0
    printed = capsys.readouterr().out
    # Checked after every update: the first epoch ends after its first update and is saved.
    assert "stopped during epoch 1, after 1 of its 2 updates (saved as epoch 1)" in printed
    assert sorted(p.name for p in (out / runs.SNAPSHOTS_DIR).iterdir()) == ["epoch_0001"]
    assert runs.read_config(out / runs.SNAPSHOTS_DIR / "epoch_0001")["epoch"] == 1
    model = cg.build_cyclegan((IMAGE_SIZE, IMAGE_SIZE, 1), filters=4, res_blocks=1,
                              pool_size=2, crop_frames=16, identity_start=True)
    cg.compile_cyclegan(model)
    assert trainer.load_checkpoint(model, out / runs.CHECKPOINT_NAME) == 1


# --- A model folder is never overwritten ----------------------------------------------------
def test_resume_refuses_a_model_folder_without_a_checkpoint(data_dir, fast_tiny_run, tmp_path,
                                                           capsys):
    trained = fast_tiny_run[0]
    shipped = tmp_path / "shipped"  # what a committed model folder holds
    shipped.mkdir()
    for name in (runs.CONFIG_NAME, "generator_AtoB.weights.h5", runs.LOG_NAME):
        (shipped / name).write_bytes((trained / name).read_bytes())
    before = {p.name: p.read_bytes() for p in shipped.iterdir()}
    assert tc.main(["--pair", "calm2anger", "--data-dir", str(data_dir), "--out", str(shipped),
                    "--resume", "--epochs", "10", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no resume state" in err[0] and "another --out" in err[0]
    assert {p.name: p.read_bytes() for p in shipped.iterdir()} == before
    # Without --resume too: the advice is another --out, not a --resume that would refuse.
    assert tc.main(["--pair", "calm2anger", "--data-dir", str(data_dir), "--out", str(shipped),
                    "--epochs", "1", "--quiet"]) == 2
    assert "no resume state" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in shipped.iterdir()} == before


@pytest.mark.slow
def test_an_interrupted_first_epoch_is_said_and_restarted(data_dir, tmp_path, capsys):
    out = tmp_path / "run"
    runs.write_config(out, {"pair": "calm2anger", "generator": {"filters": 4, "res_blocks": 1},
                              "training": {"batch_size": 1, "res_blocks": 1, "filters": 4}})
    base = ["--pair", "calm2anger", "--data-dir", str(data_dir), "--out", str(out), *TINY,
            "--steps-per-epoch", "1", "--epochs", "1", "--sample-every", "0"]
    assert tc.main(base) == 2
    assert "no finished epoch (interrupted); pass --resume" in capsys.readouterr().err
    assert tc.main([*base, "--resume"]) == 0
    assert "has no finished epoch; starting it again from epoch 1" in capsys.readouterr().err
    assert runs.generator_path(out).is_file()


# --- Config fields are checked on load ------------------------------------------------------
@pytest.mark.parametrize("field, value", [("filters", "eight"), ("filters", -3),
                                          ("filters", 100000), ("res_blocks", 2.5),
                                          ("identity_start", "yes"), ("filters", True)])
def test_a_malformed_config_field_is_one_line(tmp_path, field, value):
    generator = {"filters": 4, "res_blocks": 1, field: value}
    (tmp_path / runs.CONFIG_NAME).write_text(json.dumps({"generator": generator}))
    with pytest.raises(UserError) as caught:
        runs.read_config(tmp_path)
    assert field in str(caught.value) and "\n" not in str(caught.value)


def test_weights_that_do_not_match_the_config_are_one_line(tmp_path, capsys):
    run = tmp_path / "calm2anger"
    runs.write_config(run, {"pair": "calm2anger", "generator": {"filters": 4,
                                                                  "res_blocks": 1}})
    model_files.save_generator(models.build_generator((32, 32, 1), filters=4, res_blocks=1), run)
    runs.write_config(run, {"pair": "calm2anger", "generator": {"filters": 8,
                                                                  "res_blocks": 1}})
    with pytest.raises(UserError) as caught:
        model_files.load_generator(run)
    assert "does not match" in str(caught.value) and "\n" not in str(caught.value)
    assert capsys.readouterr().err.count("\n") <= 1


# --- Input the earlier review found mishandled ------------------------------------------------
def test_symlinked_actor_folders_are_found(tmp_path):
    import soundfile

    real = tmp_path / "real"
    for actor in (1, 2):
        folder = real / f"Actor_{actor:02d}"
        folder.mkdir(parents=True)
        soundfile.write(str(folder / f"03-01-02-01-01-01-{actor:02d}.wav"), tone(0.5), 16000)
    linked = tmp_path / "linked"
    linked.mkdir()
    for actor in (1, 2):
        (linked / f"Actor_{actor:02d}").symlink_to(real / f"Actor_{actor:02d}")
    (linked / "loop").symlink_to(linked)  # walked once, not forever
    assert sorted(f.actor for f in corpus.scan_ravdess(linked)) == [1, 2]


def test_a_truncated_wav_is_refused_with_its_reason(tmp_path):
    import soundfile

    from audio_files import AudioError, load_audio

    whole = tmp_path / "whole.wav"
    soundfile.write(str(whole), tone(1.0), 16000, subtype="PCM_16")
    cut = tmp_path / "cut.wav"
    cut.write_bytes(whole.read_bytes()[:2000])
    assert load_audio(whole).shape == (16000,)
    with pytest.raises(AudioError, match="truncated"):
        load_audio(cut)


def test_stereo_channels_that_cancel_are_named(tmp_path):
    import soundfile

    from audio_files import AudioError, load_audio

    audio = tone(0.5)
    path = tmp_path / "cancel.wav"
    soundfile.write(str(path), np.stack([audio, -audio], axis=1), 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match="cancel out"):
        load_audio(path)


@pytest.mark.slow
def test_sigterm_stops_after_the_update_under_way_and_saves_it(data_dir, tmp_path, capsys):
    import os
    import signal

    class _Terminate(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 0:
                os.kill(os.getpid(), signal.SIGTERM)  # what `timeout` sends

    out = tmp_path / "run"
    argv = [*FAST_TINY, "--data-dir", str(data_dir), "--out", str(out), "--epochs", "50",
            "--steps-per-epoch", "4", "--snapshot-every", "10"]
    previous = signal.getsignal(signal.SIGTERM)
    model = tc.train(tc.build_parser().parse_args(argv), extra_callbacks=[_Terminate()])
    assert model is not None
    printed = capsys.readouterr().out
    assert "asked to stop (SIGTERM): stopped during epoch 1, after 2 of its 4 updates" in printed
    assert sorted(p.name for p in (out / runs.SNAPSHOTS_DIR).iterdir()) == ["epoch_0001"]
    assert signal.getsignal(signal.SIGTERM) == previous  # the handler is put back
