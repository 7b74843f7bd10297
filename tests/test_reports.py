"""reports.py: the voice-keeping goal each model is checked against."""

from __future__ import annotations

import pytest

from spectrogan.evaluation import reports


def _row(judged: float, voiced: float, wer: float | None) -> dict:
    return {"judged_target": judged, "voiced_fraction": voiced, "word_error_rate": wer}


# --- The voice-keeping goal ----------------------------------------------------------------------
def test_voice_goal_checks_each_bar_against_the_vocoder_and_the_real_target():
    systems = {"vocoder": _row(0.0, 0.88, 0.47), "target": _row(0.69, 0.62, 0.51)}
    met = reports.voice_goal({**systems, "converted": _row(0.42, 0.58, 0.57)})
    assert met["met"] and met["voiced"]["bar"] == pytest.approx(0.57)
    assert met["word_error"]["bar"] == pytest.approx(0.57)
    assert met["judged"]["bar"] == pytest.approx(0.414)
    smeared = reports.voice_goal({**systems, "converted": _row(0.9, 0.40, 0.59)})
    assert not smeared["met"] and smeared["judged"]["met"]
    assert not smeared["voiced"]["met"] and not smeared["word_error"]["met"]
    no_asr = reports.voice_goal({"vocoder": _row(0.0, 0.88, None),
                                 "target": _row(0.69, 0.62, None),
                                 "converted": _row(0.5, 0.7, None)})
    assert no_asr["met"] and "word_error" not in no_asr
    assert reports.voice_goal(systems) is None
    text = reports.voice_goal_text({**systems, "converted": _row(0.9, 0.40, 0.59)}, "angry")
    assert "MISSED" in text and "does not meet" in text
