"""The CREMA-D corpus: its file names, sentences and emotions, and finding its recordings.

CREMA-D (Cao, Cooper, Keutmann, Gur, Nenkova and Verma, 2014, IEEE Transactions on Affective
Computing 5(4): 377-390), Open Database License 1.0, contents under the Database Contents
License 1.0: attribute it wherever a clip or a figure made from it ships.

Files are `<actor>/<actor>_<sentence>_<emotion>_<level>.<ext>` as distributed
(`1001_DFA_ANG_XX.flac`): actors 1001-1091, twelve sentences, six emotions (NEU neutral, ANG,
DIS, FEA, HAP, SAD; no calm and no surprised) and, for sentence IEO only, an intensity level
(LO, MD, HI; XX elsewhere). Parallel within an actor: every sentence in every emotion.

A `CremaFile` carries the attributes of corpus.RavdessFile (path, emotion, intensity,
statement, repetition, actor, sex, text, corpus), so the corpus-agnostic helpers of corpus.py
(select_files, split_by_actor, matching_target, measured_by_actor) take either.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from spectrogan.audio.audio_files import AUDIO_EXTENSIONS
from spectrogan.data.corpus import parse_tree
from spectrogan.core.errors import UserError

CORPUS = "crema"
# Emotion codes (file-name field 3) -> the project's emotion names (corpus.EMOTIONS).
CREMA_EMOTIONS = {"NEU": "neutral", "ANG": "angry", "DIS": "disgust", "FEA": "fearful",
                  "HAP": "happy", "SAD": "sad"}
# Level codes (field 4): IEO comes at three levels, the other sentences unspecified. Mapped
# onto RAVDESS's intensity words so one intensity filter serves both corpora.
CREMA_LEVELS = {"XX": "normal", "MD": "normal", "LO": "low", "HI": "strong"}
CREMA_SENTENCES = {
    "IEO": "It's eleven o'clock", "TIE": "That is exactly what happened",
    "IOM": "I'm on my way to the meeting", "IWW": "I wonder what this is about",
    "TAI": "The airplane is almost full", "MTI": "Maybe tomorrow it will be cold",
    "IWL": "I would like a new alarm clock", "ITH": "I think I have a doctor's appointment",
    "DFA": "Don't forget a jacket", "ITS": "I think I've seen this before",
    "TSI": "The surface is slick", "WSI": "We'll stop in a couple of minutes"}
CREMA_ACTORS = range(1001, 1092)  # the corpus's 91 actors; a copy may hold fewer
CREMA_NAME = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})$")
FETCH_CREMA = ("CREMA-D's audio from https://github.com/CheyneyComputerScience/CREMA-D "
               "(AudioWAV, or FLAC as in ../shared/data/crema)")


@dataclass(frozen=True)
class CremaFile:
    """One CREMA-D recording, decoded from its name `<actor>_<sentence>_<emotion>_<level>`."""

    path: Path
    emotion: str  # one of CREMA_EMOTIONS' values
    intensity: str  # 'normal', 'low' or 'strong' (CREMA_LEVELS)
    statement: str  # sentence code, e.g. 'DFA' (see CREMA_SENTENCES)
    actor: int  # 1001..1091
    repetition: int = 1  # CREMA-D records each sentence and level once
    sex: str = "unknown"  # CREMA-D's file names do not say
    corpus: str = CORPUS

    @property
    def text(self) -> str:
        """The sentence spoken."""
        return CREMA_SENTENCES[self.statement]


def parse_crema_name(path: str | os.PathLike) -> CremaFile:
    """Decode a CREMA-D file name; ValueError (with the reason) if it is not one.

    A file inside a folder named by an actor number must carry that actor's number.
    """
    path = Path(path)
    if path.suffix.lower() not in AUDIO_EXTENSIONS:
        raise ValueError("not an audio file")
    match = CREMA_NAME.match(path.stem)
    if not match:
        raise ValueError("name is not <actor>_<sentence>_<emotion>_<level>")
    actor_text, sentence, emotion, level = match.groups()
    actor = int(actor_text)
    if actor not in CREMA_ACTORS:
        raise ValueError(f"actor {actor} is outside CREMA-D's 1001-1091")
    if sentence not in CREMA_SENTENCES:
        raise ValueError(f"unknown sentence code {sentence}")
    if emotion not in CREMA_EMOTIONS:
        raise ValueError(f"unknown emotion code {emotion}")
    if level not in CREMA_LEVELS:
        raise ValueError(f"unknown level code {level}")
    if re.fullmatch(r"\d{4}", path.parent.name) and int(path.parent.name) != actor:
        raise ValueError(f"actor {actor} in the name but the folder is {path.parent.name}")
    return CremaFile(path=path, emotion=CREMA_EMOTIONS[emotion], intensity=CREMA_LEVELS[level],
                     statement=sentence, actor=actor)


def scan_crema(directory: str | os.PathLike, *,
               skipped: list[tuple[str, str]] | None = None) -> list[CremaFile]:
    """Every CREMA-D recording under `directory` (recursively), sorted by path.

    Args:
        directory: a CREMA-D tree (`<actor>/<actor>_<sentence>_<emotion>_<level>.flac`) or a
            flat folder of its files.
        skipped: if given, (path relative to `directory`, reason) of every other file found is
            appended to it.
    Raises:
        UserError: the folder is missing, not a folder, or holds no CREMA-D file.
    """
    root = Path(directory)
    if not root.is_dir():
        what = "no such folder" if not root.exists() else "is not a folder"
        raise UserError(f"{root}: {what}; pass the CREMA-D folder (holding 1001 ... 1091 or "
                        f"their files) with --crema DIR; get {FETCH_CREMA}")
    files, others = parse_tree(root, parse_crema_name, skipped=skipped)
    if not files:
        example = f", e.g. {others[0][0]} ({others[0][1]})" if others else ""
        raise UserError(f"{root}: no CREMA-D recordings (<actor>_<sentence>_<emotion>_<level>"
                        f".flac) among its {len(others)} file(s){example}")
    return files
