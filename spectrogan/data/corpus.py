"""The corpora and SpectroGAN's data sets: one home for every fact about them.

- Emotions (RAVDESS codes and the original project's aliases), pair names ("calm2anger"), the
  pairs the project ships, every pair it can build.
- The corpora the project learns from (RAVDESS and CREMA-D, `CORPORA`), each one's source
  emotion, and the one speaker split across both (`SPEAKER_SPLIT`: train, validation and test
  actors of each corpus; actor numbers never collide, RAVDESS 1-24, CREMA-D 1001-1091).
- RAVDESS file names (`03-01-EE-II-SS-RR-AA.wav`), finding them and the text of the two
  sentences (CREMA-D's file names are crema.py's).
- The pair npz format (`data/<pair>.npz`): its array names (`npz_key`), writing and checking it.
- Where things live by default: `DATA_DIR`, `default_ravdess()`.

Never parses arguments; `parse_*` functions raise UserError with the bad value, and
`cli.arg_type` turns them into argparse types.

RAVDESS: Livingstone & Russo (2018), https://zenodo.org/record/1188976, CC BY-NC-SA 4.0.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from spectrogan.core.atomic_files import atomic_output
from spectrogan.core.errors import UserError
from spectrogan.audio.audio_files import AUDIO_EXTENSIONS
from spectrogan.audio.spectro import HOP_LENGTH, IMAGE_SIZE, N_FFT, N_FRAMES, SAMPLE_RATE, TOP_DB

DATA_DIR = Path("data")  # data_prep.py writes <pair>.npz here; train_cyclegan.py reads them


# How to get RAVDESS, for messages of every script (only data_prep.py downloads).
FETCH_RAVDESS = "`python data_prep.py --download ravdess --all`"


def default_crema() -> Path:
    """data/crema if present, else the shared copy ../shared/data/crema."""
    local = DATA_DIR / "crema"
    return local if local.is_dir() else Path("..") / "shared" / "data" / "crema"


def default_ravdess() -> Path:
    """data/ravdess (where `data_prep.py --download ravdess` puts it) if present, else the
    shared copy ../shared/data/ravdess."""
    local = DATA_DIR / "ravdess"
    return local if local.is_dir() else Path("..") / "shared" / "data" / "ravdess"


# RAVDESS emotion codes (file-name field 3), in code order: 01 neutral ... 08 surprised.
EMOTIONS = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")
# The original project's names, accepted everywhere as aliases.
EMOTION_ALIASES = {"anger": "angry", "fear": "fearful", "surprise": "surprised",
                   "disgusted": "disgust"}
# Pair names use the original's spelling ("calm2anger"), so its users find their files.
_PAIR_SPELLING = {"angry": "anger"}
DEFAULT_PAIRS = ("calm2anger", "calm2fearful", "calm2happy", "calm2sad", "calm2disgust",
                 "calm2surprised", "fearful2surprised")
DOMAINS = ("A", "B")  # A = source emotion, B = target emotion
SPLITS = ("train", "val", "test")
GROUPS = tuple((split, domain) for split in SPLITS for domain in DOMAINS)  # an npz's image stacks
# 2: the "val" split was added (files of version 1 have train and test only).
FORMAT_VERSION = 2
# STFT settings stored in every npz; loading one whose settings differ is an error.
STFT_SETTINGS = {"sample_rate": SAMPLE_RATE, "n_fft": N_FFT, "hop_length": HOP_LENGTH,
                 "n_frames": N_FRAMES, "image_size": IMAGE_SIZE, "top_db": TOP_DB}


def canonical_emotion(name: str) -> str:
    """RAVDESS emotion name for `name` or an alias ('anger' -> 'angry'); UserError if unknown."""
    key = name.strip().lower()
    key = EMOTION_ALIASES.get(key, key)
    if key not in EMOTIONS:
        choices = ", ".join(EMOTIONS + tuple(EMOTION_ALIASES))
        raise UserError(f"unknown emotion {name!r}; choose one of: {choices}")
    return key


def pair_name(source: str, target: str) -> str:
    """Canonical pair name, e.g. ('calm', 'angry') -> 'calm2anger'."""
    source, target = canonical_emotion(source), canonical_emotion(target)
    return f"{_PAIR_SPELLING.get(source, source)}2{_PAIR_SPELLING.get(target, target)}"


def parse_pair(pair: str) -> tuple[str, str, str]:
    """Split 'SRC2DST' (aliases allowed) into (canonical pair name, source, target emotions)."""
    parts = pair.strip().lower().split("2")
    if len(parts) != 2 or not all(parts):
        raise UserError(f"unknown pair {pair!r}; write it as SOURCE2TARGET, e.g. calm2anger")
    source, target = canonical_emotion(parts[0]), canonical_emotion(parts[1])
    if source == target:
        raise UserError(f"pair {pair!r} converts an emotion into itself")
    return pair_name(source, target), source, target


# --- The npz format -------------------------------------------------------------------------
def npz_key(split: str, domain: str, field: str = "") -> str:
    """Name of one array in a pair's npz: npz_key('train', 'A') -> 'train_A' (the images),
    npz_key('train', 'A', 'files') -> 'train_A_files'."""
    return f"{split}_{domain}" + (f"_{field}" if field else "")


def save_pair_npz(path: str | os.PathLike, *, pair: str,
                  images: dict[tuple[str, str], np.ndarray],
                  files: dict[tuple[str, str], list[str]],
                  actors: dict[tuple[str, str], list[int]],
                  extra: dict[str, Any] | None = None) -> Path:
    """Write one pair's data set atomically.

    Args:
        path: output .npz path.
        pair: canonical pair name, e.g. 'calm2anger'.
        images: for every (split, domain) in SPLITS x DOMAINS, float (N, IMAGE_SIZE, IMAGE_SIZE)
            in [-1, 1]; stored as float16. The "val" split may be left out: it is then stored
            with N = 0 (no validation actors).
        files: the source file (relative path) of every window, same keys, length N.
        actors: the RAVDESS actor id of every window, same keys, length N.
        extra: further scalar or array metadata to store (e.g. 'windows', 'test_actors').
    Keys in the file: `train_A`, `train_A_files`, `train_A_actors`, ... for each split and
    domain, `pair`, `source`, `target`, `format_version`, the STFT_SETTINGS, and `extra`'s.
    """
    _, source, target = parse_pair(pair)
    arrays: dict[str, Any] = {"pair": np.array(pair), "source": np.array(source),
                              "target": np.array(target),
                              "format_version": np.array(FORMAT_VERSION)}
    arrays.update({name: np.array(value) for name, value in STFT_SETTINGS.items()})
    for split in SPLITS:
        for domain in DOMAINS:
            if split == "val" and (split, domain) not in images:
                images = {**images, (split, domain): np.zeros((0, IMAGE_SIZE, IMAGE_SIZE))}
                files = {**files, (split, domain): []}
                actors = {**actors, (split, domain): []}
            stack = np.asarray(images[split, domain], dtype=np.float32)
            if stack.ndim != 3 or stack.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
                raise ValueError(f"{npz_key(split, domain)}: expected (N, {IMAGE_SIZE}, "
                                 f"{IMAGE_SIZE}), got {stack.shape}")
            if len(files[split, domain]) != len(stack) or len(actors[split, domain]) != len(stack):
                raise ValueError(f"{npz_key(split, domain)}: files/actors do not match "
                                 f"{len(stack)} images")
            arrays[npz_key(split, domain)] = np.clip(stack, -1.0, 1.0).astype(np.float16)
            arrays[npz_key(split, domain, "files")] = np.array(files[split, domain], dtype=str)
            arrays[npz_key(split, domain, "actors")] = np.array(actors[split, domain],
                                                                dtype=np.int16)
    for name, value in (extra or {}).items():
        arrays[name] = np.asarray(value)
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)
    return Path(path)


def load_pair_npz(path: str | os.PathLike) -> dict[str, Any]:
    """Load and check a pair's npz (allow_pickle=False).

    Returns a dict with every array of the file (images stay float16; `pair`, `source`,
    `target` as str), train_*, val_* and test_* among them (val_* may hold 0 images). Raises
    UserError when the file is missing (naming the data_prep command that makes it),
    unreadable, of another format, made before the validation split existed (no val_*
    keys), or made with other STFT settings than spectro.py's.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such data set; make it with "
                        f"`python data_prep.py --ravdess DIR --pair {path.stem}`")
    try:
        with np.load(path, allow_pickle=False) as npz:
            data = {name: npz[name] for name in npz.files}
    except Exception as exc:  # zipfile/numpy raise several types for a broken file
        raise UserError(f"{path}: not a readable data set ({exc})") from None
    group_keys = {split: {npz_key(split, d, f) for d in DOMAINS for f in ("", "files", "actors")}
                  for split in SPLITS}
    required = {"pair", "format_version", *STFT_SETTINGS,
                *(key for split in SPLITS if split != "val" for key in group_keys[split])}
    missing = sorted(required - data.keys())
    if missing:
        raise UserError(f"{path}: not a SpectroGAN data set (missing {', '.join(missing[:4])}); "
                        f"rebuild it with `python data_prep.py --ravdess DIR --pair {path.stem} "
                        "--force`")
    if not group_keys["val"] <= data.keys():
        # Made by an older data_prep.py: its fingerprint is outdated, so re-running the
        # command rebuilds it without --force.
        how = ("--download seed" if str(data.get("origin", "")) == "seed"
               else "--ravdess DIR")
        raise UserError(f"{path}: made before the validation split existed (no val_A/val_B); "
                        f"rebuild it with `python data_prep.py {how} --pair {path.stem}`")
    for name, expected in STFT_SETTINGS.items():
        if not np.isclose(float(data[name]), float(expected)):
            raise UserError(f"{path}: made with {name}={data[name].item()}, but spectro.py uses "
                            f"{expected}; rebuild it with `python data_prep.py --ravdess DIR "
                            f"--pair {path.stem} --force`")
    for split in SPLITS:
        for domain in DOMAINS:
            stack = data[npz_key(split, domain)]
            if stack.ndim != 3 or stack.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
                raise UserError(f"{path}: {npz_key(split, domain)} has shape {stack.shape}, "
                                f"expected (N, {IMAGE_SIZE}, {IMAGE_SIZE})")
    for name in ("pair", "source", "target"):
        if name in data:
            data[name] = str(data[name])
    return data


# --- RAVDESS file names ---------------------------------------------------------------------
RAVDESS_NAME = re.compile(r"^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)$")
INTENSITIES = ("normal", "strong")  # file-name field 4: 01 normal, 02 strong
STATEMENTS = ("Kids are talking by the door", "Dogs are sitting by the door")  # field 5
# The one speaker split, both corpora: choices are made on "val" actors only, the "test"
# actors are heard only for the final tables, every other actor present trains. RAVDESS 17, 19
# male, 18, 20 female; 15 male, 16 female.
SPEAKER_SPLIT = {
    "ravdess": {"val": (15, 16), "test": (17, 18, 19, 20)},
    "crema": {"val": tuple(range(1033, 1039)), "test": tuple(range(1039, 1045))},
}
DEFAULT_TEST_ACTORS = tuple(a for split in SPEAKER_SPLIT.values() for a in split["test"])
DEFAULT_VAL_ACTORS = tuple(a for split in SPEAKER_SPLIT.values() for a in split["val"])
CORPORA = tuple(SPEAKER_SPLIT)
# A pair's source domain in each corpus: CREMA-D has no calm, its neutral is the nearest.
SOURCE_STAND_INS = {"crema": {"calm": "neutral"}}
# The emotions each corpus records (CREMA-D: no calm, no surprised).
CORPUS_EMOTIONS = {"ravdess": EMOTIONS,
                   "crema": ("neutral", "happy", "sad", "angry", "fearful", "disgust")}
INTENSITY_FILTERS = ("both", "normal", "strong")  # which recordings of an emotion to use
ALL_PAIRS = tuple(pair_name(s, t) for s in EMOTIONS for t in EMOTIONS if s != t)


@dataclass(frozen=True)
class RavdessFile:
    """One RAVDESS speech recording, decoded from its name `03-01-EE-II-SS-RR-AA.wav`."""

    path: Path
    emotion: str  # one of EMOTIONS
    intensity: str  # 'normal' or 'strong'
    statement: int  # 1 or 2 (see STATEMENTS)
    repetition: int  # 1 or 2
    actor: int  # 1..24 in RAVDESS
    sex: str  # 'male' (odd actor) or 'female' (even actor)
    corpus: str = "ravdess"

    @property
    def text(self) -> str:
        """The sentence spoken."""
        return STATEMENTS[self.statement - 1]


def parse_ravdess_name(path: str | os.PathLike) -> RavdessFile:
    """Decode a RAVDESS speech file name; ValueError (with the reason) if it is not one.

    Only audio-only speech files (modality 03, vocal channel 01) with valid codes qualify. A
    file inside an `Actor_XX` folder must carry that actor's number.
    """
    path = Path(path)
    if path.suffix.lower() not in AUDIO_EXTENSIONS:
        raise ValueError("not an audio file")
    match = RAVDESS_NAME.match(path.stem)
    if not match:
        raise ValueError("name is not 03-01-EE-II-SS-RR-AA")
    modality, channel, emotion, intensity, statement, repetition, actor = map(int, match.groups())
    if modality != 3:
        raise ValueError("not an audio-only file (modality must be 03)")
    if channel != 1:
        raise ValueError("song, not speech (vocal channel must be 01)")
    if not 1 <= emotion <= len(EMOTIONS):
        raise ValueError(f"unknown emotion code {emotion:02d}")
    if not 1 <= intensity <= 2 or not 1 <= statement <= 2 or not 1 <= repetition <= 2:
        raise ValueError("intensity, statement and repetition codes must be 01 or 02")
    if actor < 1:
        raise ValueError("actor code must be 01 or more")
    folder = re.fullmatch(r"Actor_(\d+)", path.parent.name)
    if folder and int(folder.group(1)) != actor:
        raise ValueError(f"actor {actor:02d} in the name but the folder is {path.parent.name}")
    return RavdessFile(path=path, emotion=EMOTIONS[emotion - 1],
                       intensity=INTENSITIES[intensity - 1], statement=statement,
                       repetition=repetition, actor=actor,
                       sex="male" if actor % 2 else "female")


def scan_ravdess(directory: str | os.PathLike, *,
                 skipped: list[tuple[str, str]] | None = None) -> list[RavdessFile]:
    """Every RAVDESS speech file under `directory` (recursively), sorted by path.

    Args:
        directory: a RAVDESS tree (`Actor_XX/03-01-EE-II-SS-RR-AA.wav`), or a folder above it.
        skipped: if given, (path relative to `directory`, reason) of every other file found
            is appended to it, so callers can report them.
    Raises:
        UserError: the folder is missing, not a folder, empty, or holds no RAVDESS file.
    """
    root = Path(directory)
    if not root.exists():
        raise UserError(f"{root}: no such folder; pass the RAVDESS folder (holding Actor_01 ... "
                        f"Actor_24) with --ravdess DIR, or fetch it with {FETCH_RAVDESS}")
    if not root.is_dir():
        raise UserError(f"{root}: is not a folder; --ravdess takes the folder holding Actor_01 "
                        "... Actor_24")
    files, others = parse_tree(root, parse_ravdess_name, skipped=skipped)
    if not files:
        if not others:
            raise UserError(f"{root}: the folder is empty; pass the RAVDESS folder (holding "
                            f"Actor_01 ... Actor_24), or fetch it with {FETCH_RAVDESS}")
        raise UserError(f"{root}: no RAVDESS speech files (Actor_XX/03-01-EE-II-SS-RR-AA.wav) "
                        f"among its {len(others)} file(s), e.g. {others[0][0]} "
                        f"({others[0][1]}); pass the folder holding Actor_01 ... Actor_24")
    return files


def parse_tree(root: Path, parse: Callable[[Path], Any], *,
               skipped: list[tuple[str, str]] | None = None
               ) -> tuple[list[Any], list[tuple[str, str]]]:
    """`parse` every file under `root`, sorted by path: (the records it decoded, (path relative
    to `root`, reason) of each file it refused with ValueError), the refusals also appended
    to `skipped` when given."""
    records: list[Any] = []
    others: list[tuple[str, str]] = []
    for path in sorted(files_under(root)):
        try:
            records.append(parse(path))
        except ValueError as exc:
            others.append((path.relative_to(root).as_posix(), str(exc)))
    if skipped is not None:
        skipped.extend(others)
    return records, others


def files_under(root: Path) -> list[Path]:
    """Every file below `root`, following symlinked folders (Path.rglob does not before
    Python 3.13, so a RAVDESS copy made of links to Actor_XX folders looked empty); a link
    loop is walked once."""
    found, seen = [], set()
    for folder, subfolders, names in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:
            subfolders[:] = []
            continue
        seen.add(real)
        found.extend(Path(folder) / name for name in names if (Path(folder) / name).is_file())
    return found


def select_files(files: Iterable[RavdessFile], emotion: str, *,
                 intensity: str = "both") -> list[RavdessFile]:
    """The files of one emotion (name or alias), optionally of one intensity only; 'both'
    means normal and strong (CREMA-D's low-intensity takes of one sentence are left out:
    they sound close to neutral)."""
    emotion = canonical_emotion(emotion)
    if intensity not in INTENSITY_FILTERS:
        raise ValueError(f"intensity must be one of {INTENSITY_FILTERS}, got {intensity!r}")
    wanted = INTENSITIES if intensity == "both" else (intensity,)
    return [f for f in files if f.emotion == emotion and f.intensity in wanted]


def emotions_in_corpus(corpus: str, source: str, target: str) -> tuple[str, str] | None:
    """A pair's (source, target) emotions as `corpus` records them (CREMA-D's neutral stands in
    for calm), or None when the corpus lacks either (CREMA-D has no surprised)."""
    if corpus not in CORPUS_EMOTIONS:
        raise ValueError(f"unknown corpus {corpus!r}; choose one of {', '.join(CORPORA)}")
    stand_ins = SOURCE_STAND_INS.get(corpus, {})
    source = stand_ins.get(source, source)
    if source == target or not {source, target} <= set(CORPUS_EMOTIONS[corpus]):
        return None
    return source, target


CORPUS_TITLES = {"ravdess": "RAVDESS", "crema": "CREMA-D"}


def describe_split(role: str) -> str:
    """The `role` ('val' or 'test') actors of the one split, per corpus:
    'RAVDESS 17-20, CREMA-D 1039-1044'."""
    def span(actors: Sequence[int]) -> str:
        contiguous = list(actors) == list(range(actors[0], actors[-1] + 1))
        return (f"{actors[0]}-{actors[-1]}" if contiguous and len(actors) > 2
                else ",".join(map(str, actors)))
    return ", ".join(f"{CORPUS_TITLES[name]} {span(split[role])}"
                     for name, split in SPEAKER_SPLIT.items())


def clip_name(clip: Any, roots: dict[str, Path]) -> str:
    """How data sets and metrics name a clip: its path relative to its corpus's folder in
    `roots`, prefixed with the corpus for every corpus but RAVDESS (whose names stay as they
    always were): 'Actor_17/03-01-02-01-01-01-17.wav', 'crema/1040/1040_DFA_NEU_XX.flac'."""
    return _named_in(clip.corpus, clip.path.relative_to(roots[clip.corpus]))


def path_clip_name(path: Path, roots: dict[str, Path]) -> str:
    """`clip_name` of the file at `path`, whichever corpus folder of `roots` holds it;
    ValueError when none does."""
    resolved = Path(path).resolve()
    for corpus, root in roots.items():
        if resolved.is_relative_to(Path(root).resolve()):
            return _named_in(corpus, resolved.relative_to(Path(root).resolve()))
    raise ValueError(f"{path} is in none of the corpus folders "
                     f"{', '.join(str(root) for root in roots.values())}")


def _named_in(corpus: str, relative: Path) -> str:
    return relative.as_posix() if corpus == "ravdess" else f"{corpus}/{relative.as_posix()}"


def split_actors(role: str, corpora: Iterable[str] = CORPORA) -> tuple[int, ...]:
    """The one split's `role` ('val' or 'test') actors of `corpora`, in split order."""
    wanted = set(corpora)
    return tuple(a for name, split in SPEAKER_SPLIT.items() if name in wanted
                 for a in split[role])


def split_training_actors(files: Iterable[Any], held_out: Iterable[int] = ()
                          ) -> tuple[int, ...]:
    """Every actor of `files` that the one split trains on: neither a validation nor a test
    actor of any corpus, nor one of `held_out` (a model's own validation and test actors)."""
    excluded = set(DEFAULT_VAL_ACTORS) | set(DEFAULT_TEST_ACTORS) | {int(a) for a in held_out}
    return tuple(sorted({f.actor for f in files} - excluded))


def corpus_of_actor(actor: int) -> str:
    """'ravdess' for actors 1-999, 'crema' for 1000 and above (their numbers never collide)."""
    return "crema" if actor >= 1000 else "ravdess"


def check_actor_split(test_actors: Iterable[int], val_actors: Iterable[int] = ()
                      ) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Sorted, de-duplicated (test actors, validation actors); UserError naming the actors
    that are in both (a validation actor would leak into the final report)."""
    test = tuple(sorted({int(a) for a in test_actors}))
    val = tuple(sorted({int(a) for a in val_actors}))
    both = sorted(set(test) & set(val))
    if both:
        raise UserError(f"actor(s) {actor_range(both)} are in both --val-actors "
                        f"({actor_range(val)}) and --test-actors ({actor_range(test)}); an "
                        "actor is either validation or test, e.g. --val-actors "
                        f"{','.join(map(str, DEFAULT_VAL_ACTORS))} --test-actors "
                        f"{','.join(map(str, DEFAULT_TEST_ACTORS))}")
    return test, val


def split_by_actor(files: Iterable[RavdessFile], test_actors: Iterable[int],
                   val_actors: Iterable[int] = ()) -> dict[str, list[RavdessFile]]:
    """Speaker-disjoint split: {'train': files of every other actor, 'val': files of
    `val_actors` (empty when none are given), 'test': files of `test_actors`}.

    Raises UserError when an actor is in both `test_actors` and `val_actors`.
    """
    test, val = (set(actors) for actors in check_actor_split(test_actors, val_actors))
    split: dict[str, list[RavdessFile]] = {"train": [], "val": [], "test": []}
    for f in files:
        split["test" if f.actor in test else "val" if f.actor in val else "train"].append(f)
    return split



def matching_target(files: Sequence[RavdessFile], clip: RavdessFile, target: str
                    ) -> RavdessFile | None:
    """The same actor's same sentence and repetition in `target` emotion, same intensity
    where it exists (neutral has normal intensity only), else None."""
    candidates = [f for f in files if f.actor == clip.actor and f.emotion == target
                  and f.statement == clip.statement and f.repetition == clip.repetition]
    candidates.sort(key=lambda f: f.intensity != clip.intensity)
    return candidates[0] if candidates else None


# --- Actor lists ------------------------------------------------------------------------------
NO_ACTORS = ("", "none")  # actor-list spellings meaning "no actors" (no validation split)


def measured_by_actor(files: Sequence[Any], *, source: str, target: str,
                      actors: Iterable[int], measure: Any) -> dict[int, tuple[list, list]]:
    """Each actor's measured clips of two emotions, for learning a change of one emotion into
    another speaker by speaker (prosody.py, spectral_balance.py, cepstral_change.py).

    Args:
        files: RavdessFile or CremaFile records; source, target: emotion names as they spell
            them. In a corpus without the source emotion its stand-in is measured (CREMA-D:
            neutral for calm); an actor of a corpus without either emotion is left out.
        actors: whose clips count (a model's training actors).
        measure: called with a clip's path, returns its measurement or None (unmeasurable).
    Returns:
        {actor: (source measurements, target measurements)} for every actor in `actors` with
        at least one measurement of each, in actor order.
    Raises:
        UserError when no actor has both.
    """
    chosen = sorted(set(actors))
    sides: dict[int, tuple[list, list]] = {}
    for actor in chosen:
        own = [f for f in files if f.actor == actor]
        emotions = emotions_in_corpus(own[0].corpus, source, target) if own else None
        if emotions is None:
            continue
        measured = tuple([value for value in (measure(f.path) for f in own
                                              if f.emotion == emotion) if value is not None]
                         for emotion in emotions)
        if measured[0] and measured[1]:
            sides[actor] = measured
    if not sides:
        raise UserError(f"no measurable clips of both {source} and {target} by actors "
                        f"{', '.join(map(str, chosen))}; check the corpus folders")
    return sides


def actor_range(actors: Iterable[int]) -> str:
    """'15,16' for [16, 15]; 'none' for no actors."""
    return ",".join(f"{a:02d}" for a in sorted(actors)) or "none"


def parse_actors(text: str) -> tuple[int, ...]:
    """'17,18, 19' -> (17, 18, 19), sorted and de-duplicated; UserError naming `text` when it
    is not a comma-separated list of actor numbers 1..9999 (RAVDESS 1-24, CREMA-D 1001-1091)."""
    try:
        actors = tuple(sorted({int(part) for part in text.replace(" ", "").split(",") if part}))
    except ValueError:
        actors = ()
    if not actors or any(not 1 <= a <= 9999 for a in actors):
        raise UserError(f"{text!r} is not a comma-separated list of actor numbers, "
                        "e.g. 17,18,19,20")
    return actors


def parse_optional_actors(text: str) -> tuple[int, ...]:
    """Like `parse_actors`, or () for 'none' / '' (no validation actors)."""
    if text.strip().lower() in NO_ACTORS:
        return ()
    try:
        return parse_actors(text)
    except UserError:
        raise UserError(f"{text!r} is not a comma-separated list of actor numbers, e.g. 15,16 "
                        "(or 'none' for no validation actors)") from None


def parse_corpora(text: str) -> tuple[str, ...]:
    """'ravdess,crema' -> ('ravdess', 'crema') in CORPORA order; UserError naming `text` when a
    name is not one of CORPORA."""
    names = {part.strip().lower() for part in text.split(",") if part.strip()}
    unknown = sorted(names - set(CORPORA))
    if not names or unknown:
        raise UserError(f"{text!r}: unknown corpus {', '.join(unknown) or '(none given)'}; "
                        f"choose from {', '.join(CORPORA)}, e.g. {','.join(CORPORA)}")
    return tuple(name for name in CORPORA if name in names)


def parse_pair_name(text: str) -> str:
    """The canonical name of pair `text` ('calm2angry' -> 'calm2anger'); UserError if bad."""
    return parse_pair(text)[0]


# --- Whether a data/<pair>.npz is up to date, and whose it is ---------------------------------
# Bump when the way windows are made or split changes, so older data sets count as out of
# date (2: the validation split).
DATA_PREP_VERSION = 2
def content_digest(payload: Any) -> str:
    """sha256 of a JSON-able payload (a data set's inputs and settings: its fingerprint)."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def file_stamp(path: Path, root: Path) -> list[Any]:
    """[path relative to `root`, size, mtime]: a source file's part of a fingerprint."""
    info = path.stat()
    return [path.relative_to(root).as_posix(), info.st_size, info.st_mtime_ns]


def npz_state(path: Path, fingerprint: str, origin: str) -> str:
    """'missing', 'up to date', 'stale' (ours, same origin, other inputs) or 'foreign'."""
    if not path.exists():
        return "missing"
    try:
        # np.load reads members lazily: only the two small strings are read here.
        with np.load(path, allow_pickle=False) as npz:
            stored = str(npz["fingerprint"]) if "fingerprint" in npz.files else None
            made_by = str(npz["origin"]) if "origin" in npz.files else None
            same_stft = all(name in npz.files and np.isclose(float(npz[name]), float(value))
                            for name, value in STFT_SETTINGS.items())
    except Exception:  # unreadable: not ours to replace silently
        return "foreign"
    if stored == fingerprint and same_stft:
        return "up to date"
    return "stale" if made_by == origin else "foreign"


def foreign_npz_message(path: Path) -> str:
    """The refusal when a file this project did not make (with these inputs) is in the way."""
    return (f"{path}: exists and was not made by this command with these inputs (another "
            "origin, or not a data set); pass --force to replace it, or --out DIR to write "
            "elsewhere")


def window_counts(path: Path) -> dict[str, int]:
    """Windows per group of an existing npz (reads only the small `_files` arrays)."""
    with np.load(path, allow_pickle=False) as npz:
        return {npz_key(*g): len(npz[npz_key(*g, "files")]) for g in GROUPS}
