"""Learn a pair's prosody change on its training actors and choose how it converts on its
validation actors: an ablation of every arm, the winner installed with --install.

For each pair the change of pitch level, pitch range and speaking rate from calm to the target
emotion (prosody.learn_prosody_change) and the change of spectral balance
(spectral_balance.learn_spectral_balance) and of the spectrum's statistics
(cepstral_change.learn_cepstral_change) are measured on the model's training actors, each
actor against their own calm speech, never on the validation or test actors. The arms are then
scored on the validation actors exactly as `evaluate.py --select-epoch` scores epochs
(classifier trained on neither the validation nor the test actors, the same guards and rule):

    griffin-lim, model            the model as shipped before (its cut and pitch shift kept)
    world, model                  the model's envelope change on WORLD's envelope, no prosody
    world, prosody                the prosody change alone, no model
    world, model + pitch level    ... with the model: the pitch level only
    world, model + level, range   ... the pitch level and range
    world, model + prosody        ... level, range and speaking rate (one synthesis)
    world, model + balance        the model's envelope change and the spectral balance
    world, prosody + balance      the prosody change and the spectral balance, no model
    world, model + prosody + balance   all three in one synthesis
    world, cepstra                the cepstral change alone (the spectrum's mean and movement)
    world, cepstra + prosody      the cepstral change and the prosody change, no model
    world, model + cepstra + prosody   the model's envelope change, then both
    world, cepstra + level, rate  the cepstral change with the pitch level and speaking rate
                                  (the input's own pitch range kept), no model
    world, model + cepstra + level, rate   ... with the model's envelope change

A pair with no model folder yet is scored with the prosody arm alone. --install records the
winner in <models>/<pair>/config.json "inference" ("vocoder", "prosody", "spectral_balance",
"cepstral_change", and the figures it was chosen on), keeping every other key; a Griffin-Lim win changes nothing. The tables go to
<out>/<pair>_prosody.md and .json, all pairs' tables to <out>/prosody_ablation.md; the prosody
and the band levels measured per clip are cached in <out>.

    python tools/choose_prosody.py --pair calm2happy --out /work/runs/prosody
    python tools/choose_prosody.py --pair calm2happy calm2sad --out runs/prosody --install

Exit 0 when every pair was scored, 2 for a usage error, 1 when a run failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from spectrogan.core.atomic_files import atomic_output  # noqa: E402
from spectrogan.data.corpora import real_clips_arguments  # noqa: E402
from spectrogan.core.cli import arg_type, cli_main, parser_from_doc, positive_int  # noqa: E402
from spectrogan.data.corpus import (DEFAULT_TEST_ACTORS, DEFAULT_VAL_ACTORS,  # noqa: E402
                                    default_ravdess, parse_pair, parse_pair_name, scan_ravdess)
from spectrogan.core.errors import UserError  # noqa: E402
from spectrogan.core.processes import map_in_processes  # noqa: E402
from spectrogan.model.runs import (RESULTS_DIR, SELECTION_MARGIN_DB,  # noqa: E402
                                   SELECTION_VOICED_MARGIN, SELECTION_WER_MARGIN, choose_epoch,
                                   read_config, write_config)

ARMS = ("griffin-lim, model", "world, model", "world, prosody", "world, model + pitch level",
        "world, model + level, range", "world, model + prosody", "world, model + balance",
        "world, prosody + balance", "world, model + prosody + balance", "world, cepstra",
        "world, cepstra + prosody", "world, model + cepstra + prosody",
        "world, cepstra + level, rate", "world, model + cepstra + level, rate")
CACHE_NAME = "prosody_cache_v3.json"  # v3: duration = the loud voiced span
BALANCE_CACHE_NAME = "balance_cache_v1.json"
CEPSTRA_CACHE_NAME = "cepstra_cache_v1.json"


def build_parser() -> argparse.ArgumentParser:
    parser = parser_from_doc(__doc__)
    parser.add_argument("--pair", nargs="+", required=True, type=arg_type(parse_pair_name),
                        help="pairs to learn and choose, e.g. calm2happy calm2surprised")
    parser.add_argument("--models", type=Path, default=RESULTS_DIR,
                        help="folder of the model folders (default: results/ beside the "
                             "scripts)")
    parser.add_argument("--out", type=Path, required=True,
                        help="folder for the tables, the prosody cache and the feature cache")
    real_clips_arguments(parser, cache=False)
    parser.add_argument("--arms", nargs="+", choices=ARMS, default=list(ARMS), metavar="ARM",
                        help=f"arms to score (default: all: {'; '.join(ARMS)})")
    parser.add_argument("--jobs", type=positive_int, default=2,
                        help="processes for measuring the training actors' prosody and the "
                             "classifier's features (default: %(default)s)")
    parser.add_argument("--install", action="store_true",
                        help="record each pair's winner in <models>/<pair>/config.json")
    return parser


def _measure_prosody(path: str) -> tuple[str, list[float] | None]:
    """Worker: (path, [centre, spread, duration] or None) of one clip."""
    from spectrogan.stages.prosody import utterance_prosody
    from spectrogan.audio.audio_files import load_audio

    measured = utterance_prosody(load_audio(path))
    return path, None if measured is None else [measured.centre_octaves,
                                                measured.spread_octaves, measured.duration_s]


def _measure_balance(path: str) -> tuple[str, list[float] | None]:
    """Worker: (path, band levels in dB or None) of one clip."""
    from spectrogan.stages.spectral_balance import utterance_band_levels
    from spectrogan.audio.audio_files import load_audio

    levels = utterance_band_levels(load_audio(path))
    return path, None if levels is None else [round(float(v), 4) for v in levels]


def _measure_cepstra(path: str) -> tuple[str, list[float] | None]:
    """Worker: (path, [frames, means..., stds...] or None) of one clip."""
    from spectrogan.stages.cepstral_change import utterance_moments
    from spectrogan.audio.audio_files import load_audio

    moments = utterance_moments(load_audio(path))
    return path, None if moments is None else [moments.frames] + [
        round(float(v), 5) for v in (*moments.mean, *moments.std)]


class ClipCache:
    """One measurement per file path (relative to the RAVDESS folder), kept in a JSON file:
    `worker(path)` gives (path, list of numbers or None); `convert` turns a list into what
    `measure` returns."""

    def __init__(self, path: Path, root: Path, worker: Any, convert: Any) -> None:
        self.path, self.root, self.worker, self.convert = path, root, worker, convert
        self.values: dict[str, list[float] | None] = (
            json.loads(path.read_text()) if path.is_file() else {})

    def fill(self, paths: list[Path], *, jobs: int) -> None:
        """Measure the paths not cached yet, in `jobs` processes, and save."""
        missing = [str(p) for p in paths if self._key(p) not in self.values]
        if not missing:
            return
        for path, value in map_in_processes(self.worker, missing, jobs=jobs, chunksize=4):
            self.values[self._key(Path(path))] = value
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(self.path) as tmp:
            tmp.write_text(json.dumps(self.values, indent=0, sort_keys=True))

    def measure(self, path: Path) -> Any:
        value = self.values[self._key(path)]
        return None if value is None else self.convert(value)

    def _key(self, path: Path) -> str:
        return Path(path).resolve().relative_to(self.root.resolve()).as_posix()


def prosody_cache(out: Path, root: Path) -> ClipCache:
    """The UtteranceProsody of each clip, cached in `out`."""
    from spectrogan.stages.prosody import UtteranceProsody

    return ClipCache(out / CACHE_NAME, root, _measure_prosody,
                     lambda value: UtteranceProsody(*value))


def balance_cache(out: Path, root: Path) -> ClipCache:
    """The band levels (spectral_balance.utterance_band_levels) of each clip, cached in `out`."""
    import numpy as np

    return ClipCache(out / BALANCE_CACHE_NAME, root, _measure_balance, np.asarray)


def cepstra_cache(out: Path, root: Path) -> ClipCache:
    """The CepstralMoments (cepstral_change.utterance_moments) of each clip, cached in `out`."""
    import numpy as np
    from spectrogan.stages.cepstral_change import DIMENSIONS, CepstralMoments

    return ClipCache(out / CEPSTRA_CACHE_NAME, root, _measure_cepstra,
                     lambda value: CepstralMoments(int(value[0]),
                                                   np.asarray(value[1:1 + DIMENSIONS]),
                                                   np.asarray(value[1 + DIMENSIONS:])))


def arm_settings(arm: str, base: Any, change: Any, balance: Any = None,
                 cepstral: Any = None) -> Any:
    """The ConversionSettings of one arm, from the model's own (`base`), the learned
    ProsodyChange, SpectralBalance and CepstralChange."""
    from spectrogan.stages.conversion_settings import ConversionSettings
    from spectrogan.stages.prosody import ProsodyChange

    level_and_rate = ProsodyChange(change.f0_shift_semitones,
                                   duration_ratio=change.duration_ratio)
    world = {"envelope_coefficients": base.envelope_coefficients,
             "smoothing_coefficients": base.smoothing_coefficients, "vocoder": "world"}
    prosody = {"world, model": None, "world, prosody": change, "world, model + prosody": change,
               "world, model + pitch level": ProsodyChange(change.f0_shift_semitones),
               "world, model + level, range": ProsodyChange(change.f0_shift_semitones,
                                                            change.f0_spread_ratio),
               "world, model + balance": None, "world, prosody + balance": change,
               "world, model + prosody + balance": change, "world, cepstra": None,
               "world, cepstra + prosody": change, "world, model + cepstra + prosody": change,
               "world, cepstra + level, rate": level_and_rate,
               "world, model + cepstra + level, rate": level_and_rate}
    if arm == "griffin-lim, model":
        return ConversionSettings(base.envelope_coefficients, base.pitch_ratio,
                                  base.level_change_db, "griffin-lim", None,
                                  base.smoothing_coefficients)
    return ConversionSettings(**world, prosody=prosody[arm],
                              envelope_change="model" in arm,
                              spectral_balance=balance if "balance" in arm else None,
                              cepstral_change=cepstral if "cepstra" in arm else None)


def table(record: dict[str, Any]) -> str:
    """The ablation as markdown."""
    from spectrogan.stages.spectral_balance import SpectralBalance

    change = record["prosody_change"]
    from spectrogan.stages.cepstral_change import CepstralChange

    learned = [reader.from_config(record[key], where="record").describe()
               for key, reader in (("spectral_balance", SpectralBalance),
                                   ("cepstral_change", CepstralChange)) if record.get(key)]
    balance_words = "".join(f"; {words}" for words in learned)
    lines = [f"### {record['pair']}: prosody ablation on validation actors "
             f"{', '.join(map(str, record['val_actors']))}",
             "",
             f"Prosody change learned on training actors "
             f"{', '.join(map(str, record['train_actors']))}: pitch "
             f"{change['f0_shift_semitones']:+.1f} semitones, range "
             f"x{change['f0_spread_ratio']:.2f}, duration x{change['duration_ratio']:.2f}"
             f"{balance_words}.",
             "",
             f"| arm | judged {record['target']} | {record['target']} over "
             f"{record['source']} | voiced | open word error | MCD to target (dB) | "
             "within guards |",
             "|---|---|---|---|---|---|---|"]

    def row(name: str, figures: dict[str, Any], guard: str) -> str:
        wer = figures.get("word_error_rate")
        return (f"| {name} | {100 * figures['judged_target']:.0f}% | "
                f"{100 * figures['target_over_source']:.0f}% | "
                f"{100 * figures['voiced_fraction']:.0f}% | "
                f"{'-' if wer is None else f'{wer:.2f}'} | {figures['mcd_to_target']:.2f} | "
                f"{guard} |")

    for name, figures in record["reference"].items():
        if figures is not None:  # records written before unscored rows were dropped
            lines.append(row(name, figures, ""))
    for arm in record["arms"]:
        mark = "yes" if arm["passes_guard"] else "no"
        lines.append(row(f"**{arm['arm']}**" if arm["chosen"] else arm["arm"], arm, mark))
    limits = record["limits"]
    wer_limit = "-" if limits["wer_limit"] is None else f"{limits['wer_limit']:.2f}"
    lines += ["", f"Guards: MCD at most {limits['mcd_limit_db']:.2f} dB, voiced at least "
                  f"{100 * limits['voiced_limit']:.0f}%, open word error at most {wer_limit}"
                  + (f", naturalness at least {limits['naturalness_limit']:.2f}"
                     if limits.get("naturalness_limit") is not None else "")
                  + f". Chosen: **{record['chosen']}**"
                  + ("" if record["guard_held"] else " (no arm held the guards)") + "."]
    return "\n".join(lines) + "\n"


def learn_changes(pair: str, args: argparse.Namespace, files: list, caches: tuple,
                  train: Sequence[int]) -> tuple[Any, dict[int, Any], Any, Any]:
    """The pair's prosody change (with each training actor's), and the spectral balance and
    cepstral change where an arm asks for them (else None), learned on `train`."""
    from spectrogan.stages.cepstral_change import learn_cepstral_change
    from spectrogan.stages.prosody import learn_prosody_change
    from spectrogan.stages.spectral_balance import learn_spectral_balance

    _, source, target = parse_pair(pair)
    prosody_clips, balance_clips, cepstra_clips = caches
    training_clips = [f.path for f in files if f.actor in train and f.emotion in (source, target)]
    prosody_clips.fill(training_clips, jobs=args.jobs)
    change, per_actor = learn_prosody_change(files, source=source, target=target, actors=train,
                                             measure=prosody_clips.measure)
    balance = None
    if any("balance" in arm for arm in args.arms):
        balance_clips.fill(training_clips, jobs=args.jobs)
        balance, _ = learn_spectral_balance(files, source=source, target=target, actors=train,
                                            measure=balance_clips.measure)
    cepstral = None
    if any("cepstra" in arm for arm in args.arms):
        cepstra_clips.fill(training_clips, jobs=args.jobs)
        cepstral, _ = learn_cepstral_change(files, source=source, target=target, actors=train,
                                            measure=cepstra_clips.measure)
    print(f"{pair}: learned on actors {','.join(map(str, train))}: {change.describe()}"
          + "".join(f"; {learned.describe()}" for learned in (balance, cepstral)
                    if learned is not None), flush=True)
    return change, per_actor, balance, cepstral


def choose_pair(pair: str, args: argparse.Namespace, files: list, evaluator: Any,
                caches: tuple[ClipCache, ClipCache, ClipCache]) -> dict[str, Any]:
    """Learn, score every arm, and (with --install) record the winner; returns the record."""
    from spectrogan.stages.conversion_settings import ConversionSettings, conversion_record
    from spectrogan.conversion.inference import Converter, load_converter
    from spectrogan.model.runs import find_model_dir

    _, source, target = parse_pair(pair)
    try:
        model_dir = find_model_dir(args.models, source, target)
        config = read_config(model_dir)
    except UserError:
        model_dir, config = None, None
    train = (config or {}).get("train_actors") or sorted(
        {f.actor for f in files} - set(DEFAULT_VAL_ACTORS) - set(DEFAULT_TEST_ACTORS))
    val = tuple((config or {}).get("val_actors") or DEFAULT_VAL_ACTORS)
    test = tuple((config or {}).get("test_actors") or DEFAULT_TEST_ACTORS)
    if set(train) & (set(val) | set(test)):
        raise UserError(f"{pair}: training actors overlap the validation or test actors")
    change, per_actor, balance, cepstral = learn_changes(pair, args, files, caches, train)
    model = load_converter(args.models, source, target) if model_dir is not None else None
    base = model.settings if model is not None else ConversionSettings()
    arms = [a for a in args.arms if model is not None or "model" not in a]

    def score(**kwargs: Any) -> dict[str, Any]:
        return evaluator.evaluate_pair(pair, test_actors=val, exclude_actors=test, **kwargs)

    reference = {name: figures for name, figures in
                 score(systems=("source", "target"))["systems"].items() if figures is not None}
    reference["vocoder (world)"] = score(
        systems=("vocoder",),
        converter=Converter(settings=ConversionSettings(vocoder="world")))["systems"]["vocoder"]
    rows = []
    for number, arm in enumerate(arms):
        settings = arm_settings(arm, base, change, balance, cepstral)
        uses_model = model is not None and "model" in arm
        entry = score(converter=Converter(model.generator if uses_model else None, settings,
                                          model.folder if uses_model else None),
                      systems=("converted",))
        rows.append({"epoch": number, "arm": arm, "conversion": conversion_record(settings),
                     **entry["systems"]["converted"]})
        figures = rows[-1]
        print(f"  {arm}: judged {100 * figures['judged_target']:.0f}%, voiced "
              f"{100 * figures['voiced_fraction']:.0f}%, open WER "
              f"{figures.get('word_error_rate')}", flush=True)
    voiced_reference = min(reference[name]["voiced_fraction"] for name in ("source", "target"))
    choice = choose_epoch(rows, reference["source"]["mcd_to_target"],
                          margin_db=SELECTION_MARGIN_DB,
                          zero_effort_wer=reference["source"].get("word_error_rate"),
                          wer_margin=SELECTION_WER_MARGIN, voiced_reference=voiced_reference,
                          voiced_margin=SELECTION_VOICED_MARGIN,
                          naturalness_reference=reference["vocoder (world)"].get("naturalness"))
    for row in rows:
        row["passes_guard"] = row["epoch"] in choice["passing"]
        row["chosen"] = row["epoch"] == choice["epoch"]
    chosen = rows[choice["epoch"]]
    record = {
        "pair": pair, "source": source, "target": target, "train_actors": list(train),
        "val_actors": list(val), "test_actors": list(test),
        "model": None if model_dir is None else str(model_dir),
        "prosody_change": change.to_config(),
        "spectral_balance": None if balance is None else balance.to_config(),
        "cepstral_change": None if cepstral is None else cepstral.to_config(),
        "per_actor": {str(a): c.to_config() for a, c in per_actor.items()},
        "reference": reference, "arms": rows, "chosen": chosen["arm"],
        "guard_held": choice["guard_held"],
        "limits": {k: choice[k] for k in ("mcd_limit_db", "wer_limit", "voiced_limit",
                                          "naturalness_limit")},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    with atomic_output(args.out / f"{pair}_prosody.json") as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n")
    with atomic_output(args.out / f"{pair}_prosody.md") as tmp:
        tmp.write_text(table(record))
    print(table(record), flush=True)
    if args.install and model_dir is not None and chosen["arm"] != "griffin-lim, model":
        install(model_dir, config, chosen, record)
        print(f"{pair}: installed '{chosen['arm']}' in {model_dir / 'config.json'}")
    return record


def install(model_dir: Path, config: dict[str, Any], chosen: dict[str, Any],
            record: dict[str, Any]) -> None:
    """Record the chosen arm in the model's config "inference", keeping every other key."""
    inference = dict(config.get("inference") or {})
    inference["vocoder"] = "world"
    if "model" in chosen["arm"]:  # the arm's name says whether the model's change is in it
        inference.pop("envelope_change", None)
    else:
        inference["envelope_change"] = False
    for key in ("prosody", "spectral_balance", "cepstral_change"):
        if chosen["conversion"].get(key) is not None:
            inference[key] = chosen["conversion"][key]
        else:
            inference.pop(key, None)
    inference["prosody_chosen_on"] = {
        "tool": "tools/choose_prosody.py", "arm": chosen["arm"],
        "val_actors": record["val_actors"], "train_actors": record["train_actors"],
        "guard_held": record["guard_held"],
        **{k: chosen[k] for k in ("judged_target", "target_over_source", "voiced_fraction",
                                  "word_error_rate", "mcd_to_target")}}
    write_config(model_dir, {**config, "inference": inference})


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from spectrogan.evaluation.metrics import FeatureCache, load_recogniser
    from spectrogan.evaluation.scoring import EvalSettings, Evaluator

    ravdess = args.ravdess or default_ravdess()
    files = scan_ravdess(ravdess)
    evaluator = Evaluator(files=files, root=ravdess,
                          cache=FeatureCache(args.out / ".cache" / "eval_features.npz"),
                          settings=EvalSettings(jobs=args.jobs), recogniser=load_recogniser())
    caches = (prosody_cache(args.out, ravdess), balance_cache(args.out, ravdess),
              cepstra_cache(args.out, ravdess))
    for pair in args.pair:
        choose_pair(pair, args, files, evaluator, caches)
    report = write_report(args.out)
    print(f"wrote {report} (every pair scored in {args.out})")
    return 0


def write_report(out: Path) -> Path:
    """<out>/prosody_ablation.md: the tables of every pair scored into `out` so far."""
    records = [json.loads(path.read_text()) for path in sorted(out.glob("*_prosody.json"))]
    lines = ["# Prosody ablation: which conversion each pair ships", "",
             "Generated by `tools/choose_prosody.py` (do not edit by hand). Each pair's prosody "
             "change is learned on its training actors; every arm is scored on the validation "
             "actors with the level-invariant judge and `evaluate.py --select-epoch`'s rule "
             "(the highest judged target among the arms within the MCD, voicing and word-error "
             "guards). The test actors are not used here.", ""]
    path = out / "prosody_ablation.md"
    with atomic_output(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n" + "\n".join(table(r) for r in records))
    return path


if __name__ == "__main__":
    sys.exit(main())
