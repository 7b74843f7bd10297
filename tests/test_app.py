"""The web page (app.py, webpage.py): the conversion behind it, its messages for bad input, the
strength, and the page itself in a real headless browser (Debian's chromium, driven by
Selenium; skipped with the reason when no browser is installed)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile

import app
from spectrogan.audio import audio_files
from spectrogan.conversion import inference
from spectrogan.stages import envelope_model
from spectrogan.model import runs
from spectrogan.audio import spectro
from spectrogan import webpage
from spectrogan.audio.loudness import loudness_db
from spectrogan.audio.spectro import SAMPLE_RATE

from conftest import REPO, load_tool, tone
from helpers import save_tiny_model


@pytest.fixture(scope="module")
def models_root(tmp_path_factory) -> Path:
    """One tiny identity-start calm2anger model whose correction is far from zero."""
    root = tmp_path_factory.mktemp("page_models")
    save_tiny_model(root / "calm2anger", identity_start=True, randomise=5, seed=5,
                    directions=("AtoB",), training={"preset": "fast"})
    return root


@pytest.fixture(scope="module")
def converter(models_root, tmp_path_factory) -> webpage.PageConverter:
    return webpage.PageConverter(models_root, work_dir=tmp_path_factory.mktemp("page_work"))


def _clip(path: Path, seconds: float = 1.5, level: float = 0.5) -> Path:
    soundfile.write(str(path), tone(seconds, 150.0) * level / 0.5, SAMPLE_RATE,
                    subtype="FLOAT")
    return path


# --- The conversion behind the page ---------------------------------------------------------
def test_the_page_lists_the_models_it_finds_with_their_figures(converter, models_root):
    assert [pair for _, pair in converter.choices()] == ["calm2anger"]
    assert converter.choices()[0][0] == "angry (not evaluated)"
    model = {"source": "calm", "target": "happy", "judged_target": 0.25,
             "real_judged_target": 0.5, "word_error_rate": 0.41}
    assert webpage.model_label(model) == \
        "happy: judged happy 25% (real recordings 50%), word error 0.41"
    # A model that misses the voice-keeping goal says so in the menu (issue 56.10).
    assert webpage.model_label({**model, "goal_missed": ["judged emotion"]}).endswith(
        "word error 0.41; misses its goal (judged emotion)")


def test_strength_zero_is_the_vocoder_and_one_is_convert_pys_output(converter, tmp_path):
    path = _clip(tmp_path / "take.wav")
    audio = audio_files.load_audio(path)
    model = converter.converter_for("calm2anger")
    none, _, _ = converter.convert(path, "calm2anger", 0.0)
    full, png, summary = converter.convert(path, "calm2anger", 1.0)
    vocoder = inference.vocoder_only(audio, vocoder="griffin-lim")
    np.testing.assert_allclose(audio_files.load_audio(none), vocoder, atol=2e-3)
    # convert.py's path: the model's Converter at its defaults, fitted to full scale
    expected, _ = inference.fit_full_scale(model.convert(audio))
    np.testing.assert_allclose(audio_files.load_audio(full), expected, atol=2e-3)
    assert np.abs(audio_files.load_audio(full) - vocoder).max() > 0.01
    assert png.read_bytes().startswith(b"\x89PNG") and "100% strength" in summary
    assert none.parent != full.parent  # every request gets a folder of its own
    # The clip's loudness is kept unless a level change is asked for.
    assert loudness_db(audio_files.load_audio(full)) == pytest.approx(loudness_db(audio),
                                                                      abs=1.0)
    softer, _, summary = converter.convert(path, "calm2anger", 1.0, level_change_db=-10.0)
    assert loudness_db(audio_files.load_audio(softer)) == pytest.approx(
        loudness_db(audio) - 10.0, abs=1.0)
    assert "-10.0 dB" in summary


def test_the_summary_gives_the_level_change_reached_not_the_one_asked(converter, tmp_path):
    """Issue 56.1: +30 dB of a clip at a 0.9 peak cannot be reached without a square wave;
    the result stops at the clip's headroom and the summary says how far it went."""
    path = _clip(tmp_path / "loud.wav", level=0.9)
    audio = audio_files.load_audio(path)
    louder, _, summary = converter.convert(path, "calm2anger", 1.0, level_change_db=30.0)
    result = audio_files.load_audio(louder)
    assert np.mean(np.abs(result) >= 0.9) < 0.05
    reached = loudness_db(result) - loudness_db(audio)
    assert "+30.0 dB from" not in summary
    assert f"{reached:+.1f} dB from your clip's loudness" in summary or \
        f"{reached + 0.1:+.1f} dB" in summary or f"{reached - 0.1:+.1f} dB" in summary
    assert "of the +30.0 dB asked" in summary


def test_strength_moves_every_pixel_monotonically(converter):
    windows, _ = spectro.utterance_to_windows(tone(2.0, 150.0))
    generator = converter.converter_for("calm2anger").generator
    steps = [envelope_model.run_generator(windows.copy(), generator, strength=s)
             for s in (0.0, 0.25, 0.5, 0.75, 1.0)]
    np.testing.assert_allclose(steps[0], windows, atol=2e-4)
    full = envelope_model.run_generator(windows.copy(), generator)
    np.testing.assert_allclose(steps[-1], full, atol=2e-4)
    direction = np.sign(steps[-1] - steps[0])
    for before, after in zip(steps, steps[1:]):
        assert np.all((after - before) * direction >= -1e-5)
    distances = [np.abs(step - windows).mean() for step in steps]
    # Far above float noise (1e-5): the full-strength change is a real change.
    assert distances == sorted(distances) and distances[-1] > 1e-3


@pytest.mark.parametrize("case, message", [
    ("none", "Upload a recording"),
    ("garbage", "not audio, or in a format that cannot be read"),
    ("silence", "silent input"),
    ("long", "The clip is 3 s long; the page converts up to 2 s"),
    ("no model", "There is no model for 'calm2sad'"),
    ("strength", "from 0 to 100%"),
])
def test_bad_input_is_a_readable_message(models_root, tmp_path, case, message):
    converter = webpage.PageConverter(models_root, work_dir=tmp_path, max_seconds=2.0)
    path, pair, strength = _clip(tmp_path / "ok.wav"), "calm2anger", 1.0
    if case == "none":
        path = None
    elif case == "garbage":
        path = tmp_path / "notes.wav"
        path.write_bytes(os.urandom(3000))
    elif case == "silence":
        path = _clip(tmp_path / "silence.wav", level=0.0)
    elif case == "long":
        path = _clip(tmp_path / "long.wav", seconds=2.2)  # said in seconds, rounded up
    elif case == "no model":
        pair = "calm2sad"
    else:
        strength = 1.5
    with pytest.raises(webpage.PageError, match=message) as raised:
        converter.convert(path, pair, strength)
    assert str(tmp_path) not in str(raised.value)  # the visitor's own words, not our paths


def test_app_help_is_instant_and_bad_flags_are_one_line(capsys, tmp_path):
    started = time.perf_counter()
    result = subprocess.run([sys.executable, str(REPO / "app.py"), "--help"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "--port" in result.stdout and "127.0.0.1" in result.stdout
    assert time.perf_counter() - started < 10  # no gradio, no Keras before --help
    assert app.main(["--models", str(tmp_path / "none")]) == 2
    assert app.main(["--port", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("error: ") for line in err)
    # A port in use: one plain line naming --port, not the server library's advice (56.8).
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert app.main(["--port", str(port), "--models", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: port {port} on 127.0.0.1 is in use (another page or program); "
                   f"pass another --port, e.g. --port {port + 1}"]


@pytest.mark.slow
def test_ctrl_c_stops_the_page_with_status_130_even_while_models_load(models_root, tmp_path):
    import signal

    port = load_tool("page_browser").free_port()
    for wait_after_start in (0.0, 3.0):  # at once (Keras still importing), and a bit later
        server = subprocess.Popen([sys.executable, str(REPO / "app.py"), "--port", str(port),
                                   "--models", str(models_root)], cwd=tmp_path, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            assert "SpectroGAN page:" in server.stdout.readline()
            time.sleep(wait_after_start)
            server.send_signal(signal.SIGINT)
            code = server.wait(timeout=60)
        finally:
            server.kill()
        err = server.stderr.read()
        assert code == 130, err
        assert "Traceback" not in err and "terminate called" not in err


# --- The page in a real browser -------------------------------------------------------------
page_browser = load_tool("page_browser")
needs_browser = pytest.mark.skipif(
    not all(page_browser.browser_paths()),
    reason="no headless browser: install Debian's chromium and chromium-driver (.ci/run does) "
           "to test the page")


@pytest.mark.slow
@needs_browser
def test_the_page_converts_an_upload_in_a_real_browser(models_root, tmp_path):
    pytest.importorskip("selenium", reason="selenium drives the browser")
    pb = page_browser
    # The page's uploads and results stay in a private folder of its own, removed when it
    # stops (issue 56.4): with TMPDIR pointed here, nothing may be left behind.
    temp = tmp_path / "temp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp)}
    env.pop("GRADIO_TEMP_DIR", None)
    # A WORLD model with a prosody change and a learned level change, as the shipped ones.
    page_models = tmp_path / "models"
    shutil.copytree(models_root / "calm2anger", page_models / "calm2anger")
    config = runs.read_config(page_models / "calm2anger")
    config["inference"] = {"vocoder": "world", "level_change_db": 12.0, "prosody": {
        "f0_shift_semitones": 4.0, "duration_ratio": 0.8}}
    runs.write_config(page_models / "calm2anger", config)
    with pb.serve_page(page_models, log=tmp_path / "app.log", env=env) as url, \
            pb.open_browser() as driver:
        driver.get(url)
        pb.wait_for(driver, lambda d: pb.css(d, "#convert"))
        assert "angry" in pb.css(driver, "#emotion input")[0].get_attribute("value")
        # The figures and controls are explained in plain words.
        text = pb.page_text(driver)
        assert "emotion classifier" in text and "speech recogniser" in text
        assert "correction" not in text and "identity" not in text
        # A silent clip: a message in the page, and the server keeps serving.
        pb.upload(driver, _clip(tmp_path / "silence.wav", level=0.0))
        pb.css(driver, "#convert")[0].click()
        pb.wait_for(driver, lambda d: "silent input" in pb.page_text(d))
        assert "Traceback" not in pb.page_text(driver)
        # The clip's label no longer calls the user's own upload the example.
        assert "the example" not in pb.css(driver, "#clip [data-testid='block-label']")[0].text
        # The example clip, uploaded and converted: a player and the wav it plays.
        pb.upload(driver, webpage.EXAMPLE_CLIP)
        body = pb.convert(driver)
        assert body[:4] == b"RIFF" and body[8:12] == b"WAVE" and len(body) > 10000
        assert pb.css(driver, "#result button[aria-label='Play']")
        pb.wait_for(driver, lambda d: pb.css(d, "#spectrograms img"))
        # Nothing is drawn over the figure (a panel label once hid the left panel's title).
        covering = driver.execute_script("""
            const img = document.querySelector('#spectrograms img').getBoundingClientRect();
            return [...document.querySelectorAll('#spectrograms label, #spectrograms span')]
              .map(e => [e.textContent, e.getBoundingClientRect()])
              .filter(([t, r]) => t.trim() && r.width > 0 && r.height > 0
                      && r.left < img.right && r.right > img.left
                      && r.top < img.bottom && r.bottom > img.top)
              .map(([t, r]) => t.trim());""")
        assert covering == []
        # The screenshot tool takes the whole page, spectrograms included (issue 56.11).
        shot = pb.save_full_page(driver, tmp_path / "page.png")
        bottom = driver.execute_script(
            "return document.querySelector('#spectrograms img').getBoundingClientRect().bottom"
            " + window.scrollY")
        import struct

        assert struct.unpack(">II", shot.read_bytes()[16:24])[1] >= bottom
        summary = pb.css(driver, "#summary")[0].text
        assert "100% strength" in summary and "at your clip's loudness" in summary
        # The summary gives the result's own duration (the prosody change shortens it) and
        # names no convert.py flag the page cannot use (issue 56.6).
        result_seconds = soundfile.info(io.BytesIO(body)).duration
        assert f"{result_seconds:.1f} s (your clip: " in summary, summary
        assert "semitones" in summary and "convert.py" not in summary
        # Untick the prosody change: the same page converts keeping pitch and timing, and
        # the summary no longer lists the pitch and duration change.
        box = pb.css(driver, "#prosody input[type='checkbox']")[0]
        assert box.is_selected()
        box.click()
        pb.css(driver, "#convert")[0].click()
        pb.wait_for(driver, lambda d: "pitch and timing kept" in pb.css(d, "#summary")[0].text)
        kept = pb.css(driver, "#summary")[0].text
        assert "semitones" not in kept and "duration x" not in kept, kept
        # While it serves, the page's files are in one folder of its own, private.
        served = list(temp.iterdir())
        assert [p.name.startswith("spectrogan_page_") for p in served] == [True], served
        assert served[0].stat().st_mode & 0o077 == 0
        assert pb.css(driver, "#level input")  # the level change control is on the page
        # A bad clip after a good one: the message stays in the page, the old result goes.
        pb.upload(driver, _clip(tmp_path / "silence.wav", level=0.0))
        pb.css(driver, "#convert")[0].click()
        pb.wait_for(driver, lambda d: "Could not convert" in pb.css(d, "#summary")[0].text)
        pb.wait_for(driver, lambda d: not pb.css(d, "#result a[href$='.wav']"))
    # Stopped (SIGTERM), the page leaves nothing behind: uploads and results are gone.
    assert list(temp.iterdir()) == []
