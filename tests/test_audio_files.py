"""audio_files.py: reading, checking and writing audio files, and the damaged inputs a user
brings (truncated wav, stereo channels that cancel)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import tone


# --- Damaged input files -------------------------------------------------------------------------
def test_a_truncated_wav_is_refused_with_its_reason(tmp_path):
    import soundfile

    from spectrogan.audio.audio_files import AudioError, load_audio

    whole = tmp_path / "whole.wav"
    soundfile.write(str(whole), tone(1.0), 16000, subtype="PCM_16")
    cut = tmp_path / "cut.wav"
    cut.write_bytes(whole.read_bytes()[:2000])
    assert load_audio(whole).shape == (16000,)
    with pytest.raises(AudioError, match="truncated"):
        load_audio(cut)


def test_stereo_channels_that_cancel_are_named(tmp_path):
    import soundfile

    from spectrogan.audio.audio_files import AudioError, load_audio

    audio = tone(0.5)
    path = tmp_path / "cancel.wav"
    soundfile.write(str(path), np.stack([audio, -audio], axis=1), 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match="cancel out"):
        load_audio(path)
