"""The models a models folder holds, each with what is known of it: how it was made and is
applied (its config.json) and its test figures against the voice-keeping goal (metrics.json,
written by evaluate.py). What convert.py --list and the page show, never a fixed list.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from spectrogan.stages.pitch_shift import PitchShift
from spectrogan.data.corpus import CORPUS_TITLES, parse_pair
from spectrogan.core.errors import UserError
from spectrogan.evaluation.reports import read_metrics, voice_goal
from spectrogan.model.runs import model_folders, read_config, read_settings


def model_method(config: dict, folder: str | os.PathLike) -> str:
    """How the model in `folder` was made and is applied, in words, from its config."""
    generator = config.get("generator", {})
    preset = (config.get("training") or {}).get("preset")
    words = f"{preset} preset" if preset else "custom settings"
    if generator.get("envelope_coefficients"):
        words += (f", its change kept smooth along frequency "
                  f"({generator['envelope_coefficients']} coefficients)")
    elif not generator.get("identity_start"):
        words += ", draws a new image"
    applied = read_settings(folder, config).describe()
    if applied:
        words += f"; at conversion: {applied}"
    return words


def available_models(models_root: str | os.PathLike) -> list[dict]:
    """Every model folder directly under `models_root`, with what is known of it.

    Returns one dict per run folder holding a generator (runs.model_folders: `models_root`
    itself when it is one), sorted by pair:
    pair, source, target, folder (Path), method (`model_method`), exact_strength (whether a
    strength between 0 and 1 scales its correction exactly: an identity-start generator with no
    pitch shift after it), and from
    `<models_root>/metrics.json` (evaluate.py, test actors) when present: judged_target,
    real_judged_target and word_error_rate of its converted clips (None when not evaluated),
    and goal_missed: what of the voice-keeping goal it misses (reports.voice_goal: 'judged',
    'words', 'voicing'; [] when it meets it, None when not evaluated).
    """
    root = Path(models_root)
    record = read_metrics(root / "metrics.json") if (root / "metrics.json").is_file() else {}
    metrics = record.get("pairs") or {}
    others = {CORPUS_TITLES.get(name, name): part.get("pairs") or {}
              for name, part in sorted((record.get("corpora") or {}).items())}
    found = []
    for pair, folder in model_folders(root).items():
        config = read_config(folder)
        systems = (metrics.get(pair) or {}).get("systems") or {}
        converted, target = systems.get("converted") or {}, systems.get("target") or {}
        try:
            _, source, target_emotion = parse_pair(pair)
        except UserError:
            continue  # a folder that is not named after a pair
        found.append({
            "pair": pair, "source": source, "target": target_emotion, "folder": folder,
            "method": model_method(config, folder),
            "exact_strength": bool(config["generator"].get("identity_start"))
            and read_settings(folder, config).stage(PitchShift) is None,
            "judged_target": converted.get("judged_target"),
            "real_judged_target": target.get("judged_target"),
            "word_error_rate": converted.get("word_error_rate"),
            "goal_missed": _goal_missed(systems, {
                name: (pairs.get(pair) or {}).get("systems") or {}
                for name, pairs in others.items()}),
        })
    return found


_GOAL_PARTS = {"judged": "judged emotion", "word_error": "words", "voiced": "voicing"}


def _goal_missed(systems: dict[str, Any], elsewhere: dict[str, dict[str, Any]]
                 ) -> list[str] | None:
    """The parts of the voice-keeping goal a model's test figures miss ('judged emotion',
    'words', 'voicing'; another corpus's prefixed with its name), or None (no figures)."""
    goal = voice_goal(systems) if systems.get("converted") else None
    if goal is None:
        return None
    missed = [_GOAL_PARTS[name] for name in _GOAL_PARTS if name in goal and not goal[name]["met"]]
    for corpus, other in elsewhere.items():
        other_goal = voice_goal(other) if other.get("converted") else None
        if other_goal is not None:
            missed += [f"{corpus}: {_GOAL_PARTS[name]}" for name in _GOAL_PARTS
                       if name in other_goal and not other_goal[name]["met"]]
    return missed


def goal_note(model: dict[str, Any]) -> str:
    """'; misses its goal (judged emotion)' for a listed model that misses it, else ''."""
    missed = model.get("goal_missed")
    return f"; misses its goal ({', '.join(missed)})" if missed else ""
