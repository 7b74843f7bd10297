"""The global changes a pair applies through WORLD, learned from the training actors of every
corpus read: the prosody change (pitch level, range, speaking rate), the spectral balance and
the cepstral change, each clip measured once and the measurement kept in a JSON file.

Every change is learned speaker by speaker (each actor's target emotion against their own calm,
or CREMA-D's neutral: corpus.measured_by_actor) on the one split's training actors, never on a
validation or test actor. CREMA-D's low-intensity takes are left out, as data_prep.py leaves
them out of the training data.

    learner = ChangeLearner(Path("runs/choice/.cache"), folders, jobs=2)
    change, per_actor = learner.prosody(files, source="calm", target="happy",
                                        actors=split_training_actors(files))
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from spectrogan.audio.audio_files import load_audio
from spectrogan.core.atomic_files import atomic_output
from spectrogan.core.processes import map_in_processes
from spectrogan.data.corpus import emotions_in_corpus, path_clip_name
from spectrogan.stages.cepstral_change import (DIMENSIONS, CepstralChange, CepstralMoments,
                                               learn_cepstral_change, utterance_moments)
from spectrogan.stages.prosody import (ProsodyChange, UtteranceProsody, learn_prosody_change,
                                       utterance_prosody)
from spectrogan.stages.spectral_balance import (SpectralBalance, learn_spectral_balance,
                                                utterance_band_levels)

PROSODY_CACHE = "prosody_cache_v3.json"  # v3: duration = the loud voiced span
BALANCE_CACHE = "balance_cache_v1.json"
CEPSTRA_CACHE = "cepstra_cache_v1.json"


def _measure_prosody(path: str) -> tuple[str, list[float] | None]:
    """Worker: (path, [centre, spread, duration] or None) of one clip."""
    measured = utterance_prosody(load_audio(path))
    return path, None if measured is None else [measured.centre_octaves,
                                                measured.spread_octaves, measured.duration_s]


def _measure_balance(path: str) -> tuple[str, list[float] | None]:
    """Worker: (path, band levels in dB or None) of one clip."""
    levels = utterance_band_levels(load_audio(path))
    return path, None if levels is None else [round(float(v), 4) for v in levels]


def _measure_cepstra(path: str) -> tuple[str, list[float] | None]:
    """Worker: (path, [frames, means..., stds...] or None) of one clip."""
    moments = utterance_moments(load_audio(path))
    return path, None if moments is None else [moments.frames] + [
        round(float(v), 5) for v in (*moments.mean, *moments.std)]


def _cepstral_moments(value: list[float]) -> CepstralMoments:
    return CepstralMoments(int(value[0]), np.asarray(value[1:1 + DIMENSIONS]),
                           np.asarray(value[1 + DIMENSIONS:]))


class ClipCache:
    """One measurement per clip, kept in a JSON file under the clip's name (corpus.clip_name:
    its path relative to its corpus's folder in `roots`).

    `worker(path)` gives (path, list of numbers or None); `convert` turns a stored list into
    what `measure` returns (None stays None: the clip could not be measured).
    """

    def __init__(self, path: Path, roots: dict[str, Path],
                 worker: Callable[[str], tuple[str, list[float] | None]],
                 convert: Callable[[list[float]], Any]) -> None:
        self.path, self.roots, self.worker, self.convert = path, roots, worker, convert
        self.values: dict[str, list[float] | None] = (
            json.loads(path.read_text()) if path.is_file() else {})

    def fill(self, paths: Sequence[Path], *, jobs: int) -> None:
        """Measure the paths not cached yet, in `jobs` processes, and save atomically."""
        missing = [str(p) for p in paths if self._key(p) not in self.values]
        if not missing:
            return
        for path, value in map_in_processes(self.worker, missing, jobs=jobs, chunksize=4):
            self.values[self._key(Path(path))] = value
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(self.path) as tmp:
            tmp.write_text(json.dumps(self.values, indent=0, sort_keys=True))

    def measure(self, path: Path) -> Any:
        """The cached measurement of `path` (KeyError when `fill` was not given it)."""
        value = self.values[self._key(path)]
        return None if value is None else self.convert(value)

    def _key(self, path: Path) -> str:
        return path_clip_name(Path(path), self.roots)


class ChangeLearner:
    """Learns a pair's global changes on given actors, measuring each clip once into the
    caches in `folder` (shared by every pair and every later run that names the same folder).

    Args:
        folder: where the three measurement caches are kept.
        roots: {corpus: folder} of the corpora the clips come from (their names in the cache
            are relative to these).
        jobs: processes measuring the clips not cached yet.
    """

    def __init__(self, folder: Path, roots: dict[str, Path], *, jobs: int = 1) -> None:
        self.jobs = jobs
        self.prosody_clips = ClipCache(folder / PROSODY_CACHE, roots, _measure_prosody,
                                       lambda value: UtteranceProsody(*value))
        self.balance_clips = ClipCache(folder / BALANCE_CACHE, roots, _measure_balance,
                                       np.asarray)
        self.cepstra_clips = ClipCache(folder / CEPSTRA_CACHE, roots, _measure_cepstra,
                                       _cepstral_moments)

    def prosody(self, files: Sequence[Any], *, source: str, target: str,
                actors: Sequence[int]) -> tuple[ProsodyChange, dict[int, ProsodyChange]]:
        """prosody.learn_prosody_change on `actors`: (the average change, each actor's)."""
        return self._learn(learn_prosody_change, self.prosody_clips, files, source, target,
                           actors)

    def balance(self, files: Sequence[Any], *, source: str, target: str,
                actors: Sequence[int]) -> tuple[SpectralBalance, dict[int, SpectralBalance]]:
        """spectral_balance.learn_spectral_balance on `actors`."""
        return self._learn(learn_spectral_balance, self.balance_clips, files, source, target,
                           actors)

    def cepstral(self, files: Sequence[Any], *, source: str, target: str,
                 actors: Sequence[int]) -> tuple[CepstralChange, dict[int, CepstralChange]]:
        """cepstral_change.learn_cepstral_change on `actors`."""
        return self._learn(learn_cepstral_change, self.cepstra_clips, files, source, target,
                           actors)

    def _learn(self, learn: Callable[..., Any], cache: ClipCache, files: Sequence[Any],
               source: str, target: str, actors: Sequence[int]) -> Any:
        chosen = set(actors)
        clips = [f for f in files if f.actor in chosen and f.intensity != "low"
                 and f.emotion in (emotions_in_corpus(f.corpus, source, target) or ())]
        cache.fill([f.path for f in clips], jobs=self.jobs)
        return learn(clips, source=source, target=target, actors=sorted(chosen),
                     measure=cache.measure)
