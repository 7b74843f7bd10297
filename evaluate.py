"""Objective evaluation of SpectroGAN conversions on speakers the model never saw.

For each emotion pair (e.g. calm2anger) the held-out actors' source-emotion clips are
converted and scored beside four systems that need no model (the rows of the table), one
table per corpus read (RAVDESS and CREMA-D, whose neutral clips are the source of a calm2X
pair; surprised is RAVDESS's alone), on that corpus's test actors:

    source           the real, unconverted source clip (the "zero effort" system)
    vocoder only     the source clip through the same spectrogram image + Griffin-Lim path
                     (spectro.round_trip) with no generator: what the representation and the
                     vocoder alone do
    converted        the source clip through the pair's generator (inference.convert_audio)
    target resynth   the real target clip through the image + Griffin-Lim path: the best a
                     converter could score with this vocoder (the resynthesis ceiling)
    target           the real target-emotion clip of the same actor, sentence, intensity and
                     repetition

Metrics (the columns):

1. Emotion: share of clips judged as the target emotion (argmax over every emotion, so
   "sounds neutral" or "sounds sad" counts as a miss), and share where the target is rated
   above the source emotion, by the lower of two judges of different kinds (judges.py):
   utterance functionals -> StandardScaler -> multinomial logistic regression (C=0.1), and
   pitch/loudness contours and spectral shape -> random forest. Each judge's own share is
   tabled beside it. Both are trained on every emotion of the training actors of every
   corpus read (never the validation or test actors), so they never heard the evaluation
   speakers either; their accuracy on the held-out actors' real clips (and the
   source-vs-target accuracy) is printed and tabled first. Their spectral features see the
   STFT magnitude floored 80 dB below the peak, as the model's images do, so they judge the
   voice rather than the representation's noise floor.
2. Closeness to the real target: mel-cepstral distortion (MCD, dB) after dynamic time warping
   between the clip and the same actor's same sentence in the target emotion. Mel-cepstrum:
   frequency-warped cepstrum (all-pass warping alpha=0.42, the usual value for 16 kHz) of the
   project's STFT log amplitude (floored 80 dB below the peak), coefficients 1..24 (c0, the
   level, excluded), MCD = 10*sqrt(2)/ln(10) * ||c - c'|| per aligned frame, averaged along
   the DTW path; leading and trailing silence (40 dB below the peak) trimmed first.
3. Prosody: F0 mean and spread (pYIN, 60-600 Hz, voiced frames) and energy (mean frame RMS,
   dB full scale, over frames within 40 dB of the peak).
4. Content kept: MCD to the source clip, and -- when the optional pocketsphinx package is
   installed (it ships its English model inside the wheel, so it runs offline) -- the share of
   clips whose sentence a recogniser restricted to the corpus's sentence grammar (RAVDESS
   "(kids | dogs) are (talking | sitting) by the door", CREMA-D's twelve) decodes exactly, and the
   word error rate of the same recogniser with its general English language model (open
   vocabulary: both sentences end "by the door", so the grammar alone is a weak test); and,
   for the systems made from the source clip, the correlation of their frame energy envelope
   with the source's (a converter that made up speech would lose it).
5. Naturalness: Distill-MOS's predicted mean opinion score (1-5) of each clip's speech span,
   when the optional evaluation extra is installed (`pip install -r requirements-eval.txt`;
   its weights ship inside the wheel). Compare a row with the vocoder-only row on the same
   clips; without the extra the column says n/a.

Writes <out>/metrics.json (merged: evaluating one pair replaces only that pair's entries;
RAVDESS's tables under "pairs", another corpus's under "corpora" -> name -> "pairs") and
<out>/metrics.md (the tables of every pair in metrics.json). Features of real clips are cached
in <out>/.cache/eval_features.npz, keyed by a hash of the decoded audio samples, so repeated
runs skip the slow pYIN pass. Build the results page afterwards with make_results_page.py.

What each vocoder costs alone (--vocoders): every test actor's calm (CREMA-D: neutral) clip
through Griffin-Lim and through WORLD with each candidate analysis (vocoder_report.py; the
shipped one marked), with no change, scored beside the input itself: open word error, voiced
share, each judge's share still judged calm/neutral, naturalness and its paired difference
from the input, and speed. Writes <out>/vocoders.json and vocoders.md.

Choosing the epoch to ship (--select-epoch): every snapshot a training run kept
(<models>/<pair>/snapshots/epoch_NNNN/, train_cyclegan.py --snapshot-every) is scored the same
way on the run's validation actors (config.json val_actors), with the classifier trained on
actors in neither the validation nor the test set. The winner is the highest judged-target
share among the epochs whose MCD to the real target is at most 1 dB above the zero-effort
(unconverted) MCD on the same clips -- a guard against noise the classifier happens to call
angry --, whose share of voiced speech frames is at most 5 points below the lower of the
unconverted and the real target clips' (a guard against smearing the harmonics into noise,
which real emotional speech does not do) and, when a speech recogniser is installed, whose
open-vocabulary word error rate is at most 0.15 above the unconverted clips' (a guard against
losing the words) and, when Distill-MOS is installed, whose naturalness is at most 0.15 below
the vocoder alone's on the same clips; ties go to the higher target-over-source share, then the lower MCD; when
no epoch passes the guards the highest share wins anyway, and both stdout and selection.json
say so. After each pair's test table, a line says whether the model meets the voice-keeping
goal (voiced share, open word error and judged target against the vocoder-only and real
target rows; reports.voice_goal).
The figures go to <models>/<pair>/selection.json and selection.md, and the winner is
installed as the pair's model: its snapshot's generator file copied over
<models>/<pair>/generator_AtoB.weights.h5 and config.json rewritten with "epoch" and
"selected_on". The run folder's generator is replaced only when a snapshot holds the same
weights (the trainer snapshots the last epoch), unless --force. The test actors are left for
the final report: run `python evaluate.py --all` afterwards.

Usage:
    python evaluate.py --pair calm2anger
    python evaluate.py --all --models results/ --ravdess ../shared/data/ravdess
    python evaluate.py --pair calm2sad --corpus ravdess,crema  # a table per corpus
    python evaluate.py --all --baselines-only          # no trained model needed
    python evaluate.py --vocoders                       # each vocoder alone, both corpora
    python evaluate.py --pair calm2sad --limit 8 --jobs 2
    python evaluate.py --pair calm2anger --select-epoch    # choose, record, install an epoch
    python evaluate.py --all --select-epoch --models results/ && python evaluate.py --all
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Sequence

from spectrogan.audio.vocoders import VOCODERS
from spectrogan.stages.conversion_settings import ConversionSettings
from spectrogan.core.cli import arg_type, cli_main, non_negative_int, positive_int
from spectrogan.data.corpora import (add_corpus_arguments, corpus_folders, describe_folders,
                                     scan_corpora)
from spectrogan.data.corpus import (ALL_PAIRS, CORPUS_TITLES, DEFAULT_PAIRS, DEFAULT_TEST_ACTORS,
                                    DEFAULT_VAL_ACTORS, SPEAKER_SPLIT, corpus_of_actor,
                                    describe_split, emotions_in_corpus, parse_actors, parse_pair,
                                    parse_pair_name)
from spectrogan.core.errors import UserError
from spectrogan.conversion.inference import DEFAULT_BATCH_SIZE, Converter, load_converter
from spectrogan.evaluation.reports import (METRICS_VERSION, SYSTEMS, actor_list, check_generated,
                                           corpus_pairs, metrics_markdown, pair_table,
                                           read_metrics, selection_table, selection_verdict,
                                           write_generated, write_metrics)
from spectrogan.model.runs import (CONFIG_NAME, RESULTS_DIR, SELECTION_JSON, SELECTION_MARGIN_DB,
                                   SELECTION_MD, SNAPSHOTS_DIR, check_config, find_generator,
                                   find_snapshots, generator_path, install_snapshot, read_config,
                                   read_selection, same_folder, same_weights, trained_pairs)
from spectrogan.evaluation.scoring import EvalSettings, Evaluator, make_evaluator
from spectrogan.evaluation.vocoder_report import (VOCODERS_JSON, path_labels, score_vocoder_paths,
                                                  vocoder_paths, vocoder_table,
                                                  write_vocoder_report)
from spectrogan.evaluation.selection import SelectionPlan, select_epoch, write_selection
from spectrogan.audio.spectro import GRIFFIN_LIM_ITERS, PHASES


def plan_selection(args: argparse.Namespace, pair: str, files: Sequence[Any]
                   ) -> SelectionPlan | None:
    """Check one pair's run folder for --select-epoch; None (with a note) to skip it.

    UserErrors: no snapshots (with --pair; --all skips the pair), a config that records no
    validation actors, validation actors missing from the RAVDESS copy, and a run-folder
    generator that no snapshot holds (installing would lose it) unless --force.
    """
    _, source, target = parse_pair(pair)
    run_dir = args.models / pair
    snapshots = find_snapshots(run_dir)
    if not snapshots:
        out = "" if same_folder(args.models, RESULTS_DIR) else f" --out {run_dir}"
        hint = (f"train it with `python train_cyclegan.py --pair {pair}{out} --snapshot-every 10`"
                " (snapshots are kept every N epochs and after the last)")
        if args.pair:
            raise UserError(f"{run_dir}: no snapshots ({SNAPSHOTS_DIR}/epoch_*/) to choose an "
                            f"epoch from; {hint}")
        if (run_dir / CONFIG_NAME).is_file():
            print(f"note: {pair}: no snapshots in {run_dir}: skipped ({hint})", file=sys.stderr)
        return None
    config = read_config(run_dir)
    check_config(config, run_dir, source=source, target=target, direction="AtoB")
    val_actors = tuple(sorted(int(a) for a in config.get("val_actors") or ()))
    if not val_actors:
        raise UserError(f"{run_dir}/config.json records no val_actors, so there is nothing to "
                        "choose an epoch on; make the data with `python data_prep.py` "
                        f"(validation actors {actor_list(DEFAULT_VAL_ACTORS)} by default) and "
                        f"retrain with `python train_cyclegan.py --pair {pair}`")
    recorded_test = tuple(int(a) for a in config.get("test_actors") or DEFAULT_TEST_ACTORS)
    test_actors = tuple(sorted(set(args.test_actors or ()) | set(recorded_test)))
    if set(val_actors) & set(test_actors):
        raise UserError(f"validation actors "
                        f"{actor_list(sorted(set(val_actors) & set(test_actors)))} (from "
                        f"{run_dir}/config.json) are also test actors (its test_actors or "
                        "--test-actors); the two sets must not overlap")
    missing = sorted(set(val_actors) - {f.actor for f in files})
    if missing:
        raise UserError(f"validation actors {actor_list(missing)} (from {run_dir}/config.json) "
                        f"have no clips in {describe_folders(args.folders)}; pass the --ravdess "
                        "and --crema folders the run was trained from")
    installed = generator_path(run_dir)
    if installed.is_file() and not args.force and not any(
            same_weights(installed, generator_path(s.path)) for s in reversed(snapshots)):
        raise UserError(f"{installed}: holds weights that no snapshot in {run_dir / SNAPSHOTS_DIR}"
                        " has, so installing the chosen epoch over it would lose them; copy it "
                        "away or pass --force")
    if not args.force:  # neither selection file may replace one evaluate.py did not write
        read_selection(run_dir / SELECTION_JSON)
    check_generated(run_dir / SELECTION_MD, script="evaluate.py", force=args.force)
    if args.max_snapshots:  # a deadline (the GPU release): the newest ones only
        snapshots = snapshots[-args.max_snapshots:]
    return SelectionPlan(pair, run_dir, snapshots, val_actors, test_actors)


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser of evaluate.py."""
    parser = argparse.ArgumentParser(
        prog="evaluate.py", description=__doc__.split("\n\n")[0],
        epilog="Usage:" + __doc__.split("Usage:", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--pair", type=arg_type(parse_pair_name), choices=ALL_PAIRS,
                       metavar="SRC2DST",
                       help="pair to evaluate, any two RAVDESS emotions, e.g. calm2anger "
                            "(aliases anger/fear/surprise accepted)")
    which.add_argument("--vocoders", action="store_true",
                       help="score each vocoder path alone (no change) beside the input on "
                            "the test actors' calm/neutral clips: Griffin-Lim and every "
                            "candidate WORLD analysis, the shipped one marked; writes "
                            "<out>/vocoders.json and vocoders.md (default: off)")
    which.add_argument("--all", action="store_true",
                       help=f"evaluate {', '.join(DEFAULT_PAIRS)} and (unless "
                            "--baselines-only) every other pair trained under --models; pairs "
                            "without a model get baseline rows only (default: off)")
    parser.add_argument("--models", type=Path, default=RESULTS_DIR, metavar="DIR",
                        help="folder of trained run folders <pair>/ (default: results/ beside "
                             "this script)")
    add_corpus_arguments(parser)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, metavar="DIR",
                        help="where metrics.json, metrics.md and the feature cache (.cache/) go "
                             "(with --select-epoch: only the cache) (default: results/ beside "
                             "this script)")
    parser.add_argument("--baselines-only", action="store_true",
                        help="score only the systems that need no model (default: off; with "
                             "--pair a missing model is an error)")
    parser.add_argument("--test-actors", type=arg_type(parse_actors), default=None, metavar="LIST",
                        help="held-out actors to evaluate on, one table per corpus (default: "
                             "the model's config.json test_actors of each corpus, else the "
                             f"split's {describe_split('test')}; with --select-epoch these are "
                             "kept out of the judges' training besides the config's "
                             "test_actors)")
    parser.add_argument("--limit", type=positive_int, default=None, metavar="N",
                        help="score at most N source clips per pair (default: all)")
    _conversion_arguments(parser)
    _selection_arguments(parser)
    parser.add_argument("--force", action="store_true",
                        help="replace a metrics.json / metrics.md in --out that evaluate.py did "
                             "not write; with --select-epoch also a selection.json / .md it did "
                             "not write and a run-folder generator that matches no snapshot "
                             "(default: refuse)")
    return parser


def _conversion_arguments(parser: argparse.ArgumentParser) -> None:
    """How the clips are converted and scored."""
    parser.add_argument("--iters", type=non_negative_int, default=GRIFFIN_LIM_ITERS,
                        help=f"Griffin-Lim iterations (default: {GRIFFIN_LIM_ITERS}, as "
                             "convert.py)")
    parser.add_argument("--phase", choices=PHASES, default="source",
                        help="Griffin-Lim initial phase, as convert.py (default: source)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the random initial phase (default: 0)")
    parser.add_argument("--batch-size", type=positive_int, default=DEFAULT_BATCH_SIZE,
                        help="spectrogram windows per generator call (default: "
                             f"{DEFAULT_BATCH_SIZE})")
    parser.add_argument("--jobs", type=positive_int, default=1,
                        help="processes for the classifier's first feature pass over the "
                             "real clips (default: 1)")
    parser.add_argument("--no-asr", action="store_true",
                        help="skip the speech-recogniser check even if pocketsphinx is "
                             "installed (default: off)")
    parser.add_argument("--no-naturalness", action="store_true",
                        help="skip the naturalness score (Distill-MOS) even if "
                             "requirements-eval.txt is installed (default: off)")
    parser.add_argument("--no-ceiling", action="store_true",
                        help="test report: skip the target-resynthesised row (the vocoder's "
                             "ceiling), about a quarter of the time (default: off)")
    parser.add_argument("--vocoder", choices=("model", *VOCODERS), default="model",
                        help="test report: the vocoder to convert with (and, for a pair "
                             "without a model, of the vocoder-only rows); 'model' is each "
                             "model's own (config.json inference.vocoder), another measures "
                             "the same models' change through that vocoder, without the "
                             "prosody change, spectral balance and cepstral change only WORLD "
                             "applies (default: %(default)s)")
    parser.add_argument("--no-prosody", action="store_true",
                        help="test report: convert without the models' prosody change, as "
                             "convert.py --no-prosody (default: off)")


def _selection_arguments(parser: argparse.ArgumentParser) -> None:
    """--select-epoch and its bound."""
    parser.add_argument("--select-epoch", action="store_true",
                        help="instead of the test report: score every snapshot "
                             "<models>/<pair>/snapshots/epoch_*/ on the run's validation actors, "
                             "write <models>/<pair>/selection.json and selection.md, and install "
                             "the chosen epoch as the pair's generator_AtoB.weights.h5 and "
                             "config.json (rule: highest judged-target share among epochs "
                             f"whose MCD to the target is at most {SELECTION_MARGIN_DB:g} dB "
                             "worse than zero effort, whose voiced share and word error stay "
                             "near the unconverted clips'); with --all every pair with "
                             "snapshots (default: off)")
    parser.add_argument("--max-snapshots", type=positive_int, default=None, metavar="K",
                        help="with --select-epoch: score only the K newest snapshots of each "
                             "run, to bound the time (default: all)")


def _plan_model(args: argparse.Namespace, pair: str, source: str, target: str
                ) -> tuple[Path, str] | None:
    """(run folder, direction) of the pair's generator, None for baselines only.

    With --pair a missing model is a UserError naming the fixes; with --all it is a note.
    """
    if args.baselines_only:
        return None
    try:
        return find_generator(args.models, source, target)
    except UserError as exc:
        if args.pair:
            raise UserError(f"{exc}; or pass --baselines-only to score the baselines "
                            "only") from None
        print(f"note: no model for {pair} in {args.models}: baseline rows only", file=sys.stderr)
        return None


def _held_out(args: argparse.Namespace, plan: tuple[Path, str] | None,
              files: Sequence[Any], pair: str, corpus: str) -> tuple[int, ...]:
    """The actors of `corpus` to evaluate on (see --test-actors), checked against its copy;
    () when the pair has no table there (the corpus lacks an emotion, or --test-actors names
    none of its actors)."""
    _, source, target = parse_pair(pair)
    if emotions_in_corpus(corpus, source, target) is None:
        return ()
    present = {f.actor for f in files if f.corpus == corpus}
    model_actors: tuple[int, ...] | None = None
    if plan is not None:
        recorded = read_config(plan[0]).get("test_actors")
        if recorded:
            model_actors = tuple(sorted(int(a) for a in recorded))
    ours = [a for a in (args.test_actors or model_actors or ()) if corpus_of_actor(a) == corpus]
    if args.test_actors:
        if not ours:
            return ()
    elif not ours:  # the model held out no actor of this corpus: it never heard any of it
        ours = list(SPEAKER_SPLIT[corpus]["test"])
    actors = tuple(ours)
    if args.test_actors and model_actors and set(args.test_actors) - set(model_actors):
        print(f"warning: {pair}: the model was held out from actors "
              f"{actor_list(model_actors)} only; it may have trained on "
              f"{actor_list(sorted(set(args.test_actors) - set(model_actors)))}",
              file=sys.stderr)
    missing = [a for a in actors if a not in present]
    if missing:
        origin = "--test-actors" if args.test_actors else (
            f"{plan[0]}/config.json" if model_actors else "the default split")
        raise UserError(f"held-out actors {actor_list(missing)} (from {origin}) have no clips "
                        f"in the {CORPUS_TITLES[corpus]} folder; pass --test-actors with "
                        "actors present there")
    return actors


def _judges_exclude(held_out: Sequence[int], tested: Sequence[int]) -> tuple[int, ...]:
    """Every validation and test actor of the split, and every actor `tested` in this run,
    but `held_out`: the judges of a test table train on training actors alone."""
    return tuple(sorted(set(DEFAULT_VAL_ACTORS + DEFAULT_TEST_ACTORS) | set(tested)
                        - set(held_out)))


def _make_evaluator(args: argparse.Namespace, files: list[Any]) -> Evaluator:
    """The Evaluator the command-line settings ask for (feature cache under --out)."""
    return make_evaluator(
        files, args.folders, cache=args.out / ".cache" / "eval_features.npz",
        settings=EvalSettings(n_iter=args.iters, phase=args.phase, seed=args.seed,
                              batch_size=args.batch_size, limit=args.limit, jobs=args.jobs),
        asr=not args.no_asr, naturalness=not args.no_naturalness)


def _select_epochs(args: argparse.Namespace, files: list[Any]) -> int:
    """--select-epoch: choose, record and install an epoch for one pair or every pair."""
    if args.pair:
        pairs = [args.pair]
    else:
        pairs = sorted(set(DEFAULT_PAIRS) | {p for p in trained_pairs(args.models)
                                             if p in ALL_PAIRS})
    # Every pair is checked before the first slow evaluation, so a refusal costs nothing.
    plans = [plan for plan in (plan_selection(args, pair, files) for pair in pairs) if plan]
    if not plans:
        raise UserError(f"no run folder in {args.models} has snapshots to choose an epoch from; "
                        "train with `python train_cyclegan.py --pair calm2anger "
                        "--snapshot-every 10`, or pass --models DIR")
    evaluator = _make_evaluator(args, files)
    for plan in plans:
        selection = select_epoch(evaluator, plan)
        chosen = next(s for s in plan.snapshots if s.epoch == selection["chosen_epoch"])
        row = next(r for r in selection["epochs"] if r["chosen"])
        installed = install_snapshot(plan.run_dir, chosen, {
            "val_actors": selection["val_actors"], "judged_target": row["judged_target"],
            "mcd_db": row["mcd_to_target"]})
        selection["installed"] = installed.name  # beside selection.json
        json_path, md_path = write_selection(plan.run_dir, selection)
        print(selection_table(selection, verdict=False) + "\n")
        print(f"{selection_verdict(selection)}; installed as {installed}; figures in "
              f"{json_path.name} and {md_path.name} beside it\n")
    return 0


def _as_asked(args: argparse.Namespace, converter: Converter) -> Converter:
    """The model applied as --vocoder and --no-prosody ask (its own way by default). Another
    vocoder than its own converts with the model's change alone: Griffin-Lim cannot apply a
    prosody change, a spectral balance or a cepstral change."""
    settings = converter.settings
    if args.vocoder != "model" and args.vocoder != settings.vocoder.name:
        # What only the other vocoder applies goes (WORLD's prosody change, spectral balance
        # and cepstral change, Griffin-Lim's pitch shift); the model's change stays.
        settings = settings.with_vocoder(args.vocoder)
    if args.no_prosody:
        settings = settings.without_prosody()
    return converter.with_settings(settings)


def _score_vocoders(args: argparse.Namespace, files: list[Any]) -> int:
    """--vocoders: every vocoder path alone on the test actors, written to <out>/vocoders.*."""
    actors = tuple(a for a in (args.test_actors or DEFAULT_TEST_ACTORS)
                   if corpus_of_actor(a) in args.folders)
    if not actors:
        raise UserError(f"no test actor of {describe_folders(args.folders)} among "
                        f"{actor_list(args.test_actors or DEFAULT_TEST_ACTORS)}; pass "
                        "--test-actors with actors of the corpora read")
    check_generated(args.out / Path(VOCODERS_JSON).with_suffix(".md"), script="evaluate.py",
                    force=args.force)
    paths = vocoder_paths()
    report = score_vocoder_paths(_make_evaluator(args, files), paths, actors=actors,
                                 exclude_actors=_judges_exclude(actors, actors))
    report["paths"] = {label: path.record() for label, path in paths.items()}
    labels = path_labels(report)
    _, table = write_vocoder_report(args.out, Path(VOCODERS_JSON).stem, report, labels=labels,
                                    heading="Each vocoder path alone, test actors",
                                    script="evaluate.py")
    print(vocoder_table(report, labels=labels))
    print(f"wrote {args.out / VOCODERS_JSON} and {table}")
    return 0


def _baseline(args: argparse.Namespace) -> ConversionSettings:
    """The settings of the vocoder-only rows where a pair has no model: --vocoder's vocoder
    ('model' means the default, Griffin-Lim)."""
    return ConversionSettings() if args.vocoder == "model" else ConversionSettings.of(args.vocoder)


def _systems(args: argparse.Namespace, converter: Converter | None) -> list[str] | None:
    """The rows a test report scores (None: all that apply)."""
    if not args.no_ceiling:
        return None
    return [s for s in SYSTEMS if s != "target_resynth"
            and (s != "converted" or converter is not None)]


@cli_main
def main(argv: list[str] | None = None) -> int:
    """Command-line entry: evaluate one pair or all, write metrics.json and metrics.md (or,
    with --select-epoch, choose and install each run's epoch on its validation actors)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.select_epoch and args.baselines_only:
        parser.error("--select-epoch scores a run's snapshots; it cannot run with "
                     "--baselines-only")
    args.folders = corpus_folders({"ravdess": args.ravdess, "crema": args.crema}, args.corpus)
    args.ravdess = args.folders.get("ravdess")
    files = scan_corpora(args.folders)
    if not args.baselines_only and not args.models.is_dir():
        raise UserError(f"models folder {args.models} does not exist; train a model with "
                        "`python train_cyclegan.py --pair calm2anger`, pass --models DIR"
                        + ("" if args.select_epoch else ", or pass --baselines-only"))
    if args.select_epoch:
        return _select_epochs(args, files)
    if args.vocoders:
        return _score_vocoders(args, files)
    metrics_path, table_path = args.out / "metrics.json", args.out / "metrics.md"
    try:
        metrics = read_metrics(metrics_path)
    except UserError:
        if not args.force:
            raise
        metrics = {"version": METRICS_VERSION, "pairs": {}}  # --force: replace the foreign file
    check_generated(table_path, script="evaluate.py", force=args.force)
    if args.pair:
        pairs = [args.pair]
    elif args.baselines_only:
        pairs = list(DEFAULT_PAIRS)  # no need to look for (and load keras for) run folders
    else:
        extra = [p for p in trained_pairs(args.models) if p in ALL_PAIRS]
        pairs = list(DEFAULT_PAIRS) + sorted(set(extra) - set(DEFAULT_PAIRS))
    plans = {pair: _plan_model(args, pair, *parse_pair(pair)[1:]) for pair in pairs}
    held_out = {(pair, corpus): _held_out(args, plans[pair], files, pair, corpus)
                for pair in pairs for corpus in args.folders}
    held_out = {key: actors for key, actors in held_out.items() if actors}
    if not held_out:
        raise UserError(f"no test actors of {describe_folders(args.folders)} to evaluate "
                        f"{', '.join(pairs)} on; check --test-actors and --corpus")
    tested = sorted({a for actors in held_out.values() for a in actors})
    evaluator = _make_evaluator(args, files)
    scored = 0
    for pair in pairs:
        converter = None
        if plans[pair] is not None:
            _, source, target = parse_pair(pair)
            converter = _as_asked(args, load_converter(args.models, source, target))
        for corpus in args.folders:
            if (pair, corpus) not in held_out:
                continue
            actors = held_out[pair, corpus]
            entry = evaluator.evaluate_pair(pair, test_actors=actors, converter=converter,
                                            exclude_actors=_judges_exclude(actors, tested),
                                            systems=_systems(args, converter),
                                            baseline=_baseline(args))
            corpus_pairs(metrics, corpus)[pair] = entry
            write_metrics(metrics_path, metrics)
            write_generated(table_path, metrics_markdown(metrics), script="evaluate.py")
            print(f"{CORPUS_TITLES[corpus]}: " + pair_table(entry) + "\n")
            scored += 1
        del converter
    print(f"wrote {metrics_path} and {table_path} ({scored} table(s) of {len(pairs)} pair(s) "
          f"on {describe_folders(args.folders)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
