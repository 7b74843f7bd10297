"""The web page to try SpectroGAN (app.py serves it): record or upload speech, choose an emotion
among the trained models and how strongly to apply it, listen, download.

`PageConverter` is the conversion behind the page, usable without a browser: it lists the
models found in a models folder (catalogue.available_models, never a fixed list), loads each
generator once on first use (or ahead of time, in a background thread, with `warm_up`) and
keeps it, and converts one clip into a fresh folder per request, so two people converting at
once each get their own files. Every problem a visitor can cause (no clip, not audio, silence,
a file too long for a page, an emotion with no model) is a `PageError` with a readable
message; `build_page` turns those into messages in the page, and the server keeps serving.
Gradio is imported only by `build_page`, Keras only when the first model loads.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np

from spectrogan.audio.audio_files import check_audio_file, load_audio, write_audio
from spectrogan.stages.conversion_settings import LEVEL_CHANGE_LIMIT_DB
from spectrogan.core.errors import UserError
from spectrogan.core.paths import REPOSITORY
from spectrogan.audio.loudness import level_change_note, level_change_reached_db
from spectrogan.evaluation.catalogue import available_models, goal_note
from spectrogan.conversion.inference import (Converter, check_not_silent, converted_name,
                                             fit_full_scale, load_converter)
from spectrogan.audio.plots import plot_conversion
from spectrogan.model.runs import shown_path
from spectrogan.audio.spectro import SAMPLE_RATE

MAX_SECONDS = 120.0  # longer uploads are refused in the page (convert.py takes any length)
EXAMPLE_CLIP = REPOSITORY / "examples" / "calm_speech.wav"
CLIP_LABEL = "Your clip"
EXAMPLE_LABEL = "Your clip (the example: RAVDESS actor 19, calm)"
STRENGTH_NOTE = ("How much of the change to apply: 0% only re-synthesises your clip, with no "
                 "change of emotion (what the sound representation alone costs); 100% applies "
                 "the model's whole change, pitch and speaking rate included; 50% is half of "
                 "it.")
EMOTION_NOTE = ("Figures from speakers no model saw. 'judged': the share of converted clips an "
                "emotion classifier takes for this emotion; in brackets, the same speakers' "
                "real recordings of it (the best to expect). 'word error': the share of words "
                "a speech recogniser gets wrong (0 is perfect).")
PROSODY_NOTE = ("Models that learned how the emotion moves the pitch level, the pitch range and "
                "the speaking rate apply it; untick to keep your clip's own pitch and timing.")
LEVEL_NOTE = ("0 keeps your clip's loudness (the published figures are measured so); a louder "
              "clip is not a more emotional one, and peaks are limited so nothing clips.")


class PageError(Exception):
    """A problem with what the visitor gave the page; its message is shown in the page."""


def model_label(model: dict[str, Any]) -> str:
    """'angry: judged angry 22% (real recordings 69%), word error 0.59' for the menu."""
    label = model["target"] if model["source"] == "calm" else \
        f"{model['source']} → {model['target']}"
    if model["judged_target"] is None:
        return f"{label} (not evaluated)"
    figures = (f"judged {model['target']} {100 * model['judged_target']:.0f}% (real "
               f"recordings {100 * (model['real_judged_target'] or 0):.0f}%)")
    if model["word_error_rate"] is not None:
        figures += f", word error {model['word_error_rate']:.2f}"
    return f"{label}: {figures}{goal_note(model)}"


class PageConverter:
    """Converts visitors' clips with the models of one models folder, each loaded once."""

    def __init__(self, models_root: str | os.PathLike, *, work_dir: str | os.PathLike | None = None,
                 max_seconds: float = MAX_SECONDS) -> None:
        self.models_root = Path(models_root)
        self.models = {model["pair"]: model for model in available_models(self.models_root)}
        self._own_work_dir = work_dir is None
        self.work_dir = Path(work_dir or tempfile.mkdtemp(prefix="spectrogan_page_"))
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.max_seconds = float(max_seconds)
        self._converters: dict[str, Converter] = {}
        self._locks: dict[str, threading.Lock] = {pair: threading.Lock() for pair in self.models}

    def close(self) -> None:
        """Remove the converted files, when the work folder is the converter's own."""
        if self._own_work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    def choices(self) -> list[tuple[str, str]]:
        """(menu label, pair) of every model, in pair order."""
        return [(model_label(model), pair) for pair, model in self.models.items()]

    def converter_for(self, pair: str) -> Converter:
        """The pair's model, loaded on first use and kept."""
        if pair not in self.models:
            raise PageError(f"There is no model for {pair!r} on this server; choose one of the "
                            "emotions in the menu.")
        with self._locks[pair]:
            if pair not in self._converters:
                model = self.models[pair]
                try:
                    self._converters[pair] = load_converter(self.models_root, model["source"],
                                                            model["target"])
                except UserError as exc:
                    raise PageError(f"The {pair} model cannot be loaded: {exc}") from None
        return self._converters[pair]

    def warm_up(self, pairs: list[str] | None = None) -> threading.Thread:
        """Load `pairs` (default: all) in a background thread, so the page is up first."""
        def load() -> None:
            for pair in pairs if pairs is not None else list(self.models):
                try:
                    self.converter_for(pair)
                except PageError:
                    pass  # reported to the visitor who chooses it
        thread = threading.Thread(target=load, name="model-warm-up", daemon=True)
        thread.start()
        return thread

    def read_clip(self, path: str | os.PathLike | None) -> np.ndarray:
        """The visitor's clip as 16 kHz mono, or a PageError saying what is wrong with it."""
        if path is None:
            raise PageError("Upload a recording or record one with the microphone first.")
        try:
            check_audio_file(path)
            import soundfile

            info = soundfile.info(str(path))
            seconds = info.frames / info.samplerate
            if seconds > self.max_seconds:  # before decoding all of it
                # Rounded up: a 120.4 s clip must not read as the 120 s the page allows.
                raise PageError(f"The clip is {math.ceil(seconds)} s long; the page converts up "
                                f"to {self.max_seconds:.0f} s. Convert long files with "
                                "`python convert.py FILE --emotion EMOTION`.")
            audio = load_audio(path)
            check_not_silent(audio, Path(path).name)
        except UserError as exc:
            raise PageError(str(exc).replace(str(path), Path(path).name)) from None
        return audio

    def convert(self, path: str | os.PathLike | None, pair: str | None, strength: float, *,
                prosody: bool = True, level_change_db: float = 0.0
                ) -> tuple[Path, Path, str]:
        """Convert one clip: (16 kHz wav, PNG of the input and converted spectrograms side by
        side, a one-line summary), written into a fresh folder of their own.

        `strength` is a fraction, 0 (vocoder alone) to 1 (the full conversion); `prosody`
        False keeps the clip's pitch and timing; `level_change_db` changes the loudness on
        top of the clip's own (0: kept), within +-LEVEL_CHANGE_LIMIT_DB.
        """
        if pair is None:
            raise PageError("Choose an emotion first.")
        if not 0.0 <= float(strength) <= 1.0:
            raise PageError(f"Strength must be from 0 to 100%, got {100 * strength:g}%.")
        if not abs(float(level_change_db)) <= LEVEL_CHANGE_LIMIT_DB:
            raise PageError(f"The level change must be within +-{LEVEL_CHANGE_LIMIT_DB:g} dB, "
                            f"got {level_change_db:g} dB.")
        audio = self.read_clip(path)
        model = self.models.get(pair)
        converter = self.converter_for(pair)
        settings = converter.settings
        converted, _ = fit_full_scale(converter.convert(
            audio, strength=float(strength), prosody=bool(prosody),
            level_change_db=float(level_change_db)))
        folder = Path(tempfile.mkdtemp(prefix="result_", dir=self.work_dir))
        wav = write_audio(folder / converted_name(
            Path(path).stem, model["target"], strength=float(strength), prosody=bool(prosody),
            level_change=float(level_change_db)), converted)
        png = plot_conversion(wav.with_suffix(".png"), audio, converted,
                              titles=(f"input ({model['source']})",
                                      f"converted: {model['target']}, strength "
                                      f"{100 * strength:.0f}%"), side_by_side=True)
        reached_db = level_change_reached_db(converted, audio) if level_change_db else 0.0
        loudness = ("at your clip's loudness" if not level_change_db else
                    f"{reached_db:+.1f} dB from your clip's loudness")
        held_back = level_change_note(float(level_change_db), reached_db)
        if held_back:
            loudness += f" ({held_back})"
        result_s, input_s = converted.shape[0] / SAMPLE_RATE, audio.shape[0] / SAMPLE_RATE
        duration = f"{result_s:.1f} s" + (f" (your clip: {input_s:.1f} s)"
                                          if f"{result_s:.1f}" != f"{input_s:.1f}" else "")
        applied = settings.describe(prosody=bool(prosody), level_change=False)
        summary = (f"{model['source']} → {model['target']} at {100 * strength:.0f}% strength, "
                   f"{duration}, {loudness}{'' if prosody else ', pitch and timing kept'}; "
                   f"applied: {applied or 'the model alone'}.")
        if not model["exact_strength"] and 0.0 < strength < 1.0:
            summary += (" This model draws a new image or shifts the pitch, so strengths between "
                        "0 and 100% mix its input and output rather than scale its change.")
        return wav, png, summary


def build_page(converter: PageConverter) -> Any:
    """The gradio Blocks of the page (not launched)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # nothing leaves the machine
    import gradio as gr

    def run(path: str | None, pair: str | None, strength_percent: float, prosody: bool,
            level_change_db: float) -> tuple[str | None, str | None, str]:
        try:
            wav, png, summary = converter.convert(path, pair, float(strength_percent) / 100.0,
                                                  prosody=prosody,
                                                  level_change_db=float(level_change_db))
        except PageError as exc:
            # The message stays in the page where the result was (a toast fades in seconds)
            # and the previous result goes, so it cannot pass for this clip's.
            return None, None, f"**Could not convert:** {exc}"
        return str(wav), str(png), summary

    choices = converter.choices()
    with gr.Blocks(title="SpectroGAN: change the emotion of speech", analytics_enabled=False
                   ) as page:
        gr.Markdown("# SpectroGAN\nChange the emotion of recorded speech, keeping the words and "
                    "the voice. Upload or record a clip, choose an emotion and how strongly to "
                    "apply it, and convert. Everything runs on this machine.")
        with gr.Row():
            with gr.Column():
                example = EXAMPLE_CLIP.is_file()
                clip = gr.Audio(sources=["upload", "microphone"], type="filepath",
                                value=str(EXAMPLE_CLIP) if example else None,
                                label=EXAMPLE_LABEL if example else CLIP_LABEL,
                                elem_id="clip")
                emotion = gr.Dropdown(choices=choices, value=choices[0][1] if choices else None,
                                      label="Emotion", info=EMOTION_NOTE, elem_id="emotion")
                strength = gr.Slider(0, 100, value=100, step=5, label="Strength (%)",
                                     info=STRENGTH_NOTE, elem_id="strength")
                prosody = gr.Checkbox(value=True, label="Change pitch and speaking rate",
                                      info=PROSODY_NOTE, elem_id="prosody")
                level = gr.Slider(-LEVEL_CHANGE_LIMIT_DB, LEVEL_CHANGE_LIMIT_DB, value=0, step=1,
                                  label="Level change (dB)", info=LEVEL_NOTE, elem_id="level")
                button = gr.Button("Convert", variant="primary", elem_id="convert")
            with gr.Column():
                result = gr.Audio(type="filepath", label="Converted (play or download)",
                                  interactive=False, elem_id="result")
                summary = gr.Markdown(elem_id="summary")
        # The image's own label would sit on the left panel's title: a heading above instead.
        gr.Markdown("**Spectrograms:** your clip (left) and the converted clip (right)")
        spectrograms = gr.Image(type="filepath", show_label=False, interactive=False,
                                elem_id="spectrograms")
        if not choices:
            gr.Markdown(f"**No trained model in {shown_path(converter.models_root)}.** Train one "
                        "with `python train_cyclegan.py --pair calm2anger` (see README.md).")
        gr.Markdown("Example clip and figures: RAVDESS (Livingstone & Russo 2018, CC BY-NC-SA "
                    "4.0); converted clips fall under the same licence.")
        button.click(run, inputs=[clip, emotion, strength, prosody, level],
                     outputs=[result, spectrograms, summary])
        # Once the user brings a clip of their own, the example's description no longer fits.
        for user_changed_clip in (clip.upload, clip.stop_recording, clip.clear):
            user_changed_clip(lambda: gr.update(label=CLIP_LABEL), inputs=None, outputs=clip)
    return page
