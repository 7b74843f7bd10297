"""Change the emotion of your own recordings with a trained SpectroGAN generator.

Same words, same voice, another emotion: every input (any length, any sample rate, mono or
stereo) is cut into overlapping 260x260 spectrogram windows, each window goes through the
CycleGAN generator trained by train_cyclegan.py (`<models>/<source>2<emotion>/`), and the
windows are cross-faded back together. A model whose config asks for the WORLD vocoder applies
that change to WORLD's spectral envelope together with its prosody change (pitch level, pitch
range, speaking rate, learned from the training actors) in one synthesis, so the result may be
shorter or longer than the input (`--no-prosody` keeps the input's pitch and timing); other
models use Griffin-Lim, started from the input's own phase, and give exactly the input's
duration. The result has the input's loudness (its integrated loudness, ITU-R BS.1770,
within a fraction of a dB; peaks that would pass full scale are limited, never clipped);
`--level-change` makes it louder or softer on request, as far as the clip's headroom allows.
Written at 16 kHz (the model's rate) by default, or with `--sr input` at each input's own
rate.

Usage examples:

    python convert.py speech.wav --emotion angry                 # -> speech_angry.wav
    python convert.py speech.wav --emotion sad -o sad.wav --plot  # also sad.png
    python convert.py recordings/ takes/*.flac --emotion happy --out-dir converted/
    python convert.py "takes/*.wav" --emotion fearful --models runs/ --force
    python convert.py interview.flac --emotion surprised --sr input
    python convert.py speech.wav --emotion happy --strength 0.5   # half the model's change
    python convert.py speech.wav --emotion happy --no-prosody     # keep pitch and timing
    python convert.py speech.wav --emotion angry --level-change model   # + the learned dB
    python convert.py --list                                      # the models you can use

Inputs may be files, folders (every audio file directly inside; files that look like outputs
of an earlier run for the same emotion, `*_<emotion>.wav`, are skipped and counted in the
summary -- name such a file explicitly to convert it) and glob patterns (expanded here too, for
shells that do not). Every input is checked (exists, is readable audio, is complete) before the
model loads, and the model is loaded once for all inputs. A file that cannot be converted is
reported on one line and skipped; the exit status follows the rule of every script: 2 when an
input or the command was unusable (a missing, unreadable, empty or silent file, an output that
exists, a bad flag, a missing model), 1 when the run itself failed (a write refused, a full
disk), 0 when every input was converted. Nothing is overwritten without --force, an input
never, and every output is written atomically. Inputs at other rates come out at 16 kHz and
stereo is mixed to mono (the output line says so); `--sr input` keeps each input's rate, and
`--normalize` first brings a quiet recording up to a -1 dBFS peak.

Models are loaded from weights-only `.weights.h5` files into a network rebuilt from the run's
config.json: a model file holds arrays only and cannot run code (what Keras' safe mode
guarantees for whole-model files).
"""

from __future__ import annotations

import argparse
import glob
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from spectrogan.audio.audio_files import (AUDIO_EXTENSIONS, AUDIO_KINDS, AudioError,
                                          check_audio_file, file_peak, input_note, load_audio,
                                          resample, write_audio)
from spectrogan.core.cli import check_output_path, check_writable_folder, cli_main, number_in
from spectrogan.core.errors import UserError
from spectrogan.data.corpus import EMOTION_ALIASES, EMOTIONS, canonical_emotion, parse_pair
from spectrogan.stages.conversion_settings import LEVEL_CHANGE_LIMIT_DB
from spectrogan.audio.loudness import level_change_note, level_change_reached_db
from spectrogan.audio.vocoders import GriffinLim
from spectrogan.evaluation.catalogue import available_models, goal_note
from spectrogan.conversion.inference import (Converter, check_audible_peak, check_not_silent,
                                             converted_name, find_converter, fit_full_scale,
                                             is_converted_name, load_converter)
from spectrogan.audio.plots import plot_conversion
from spectrogan.model.runs import (RESULTS_DIR, how_to_train, model_folders, read_settings,
                                   shown_path)
from spectrogan.model.settings import INFERENCE_PRECISIONS
from spectrogan.audio.spectro import GRIFFIN_LIM_ITERS, PHASES, SAMPLE_RATE
from spectrogan.core.strength import FULL_STRENGTH

DEFAULT_SOURCE = "calm"
# The command's default: on CPU a bigger batch is no faster per window but holds more
# activations (peak RSS for a 1-minute file, 6-block generator: 1.09 GB at 1, 1.25 GB at 4,
# 1.50 GB at 8); 4 still amortises per-call overhead on a GPU.
CLI_BATCH_SIZE = 4
NORMALIZED_PEAK_DBFS = -1.0  # --normalize: the input's peak before converting
QUIET_PEAK = 10 ** (-40 / 20)  # inputs peaking below -40 dBFS get a hint to --normalize
MODEL_LEVEL = "model"  # --level-change model: the model's learned level change
EMOTION_CHOICES = EMOTIONS + tuple(EMOTION_ALIASES)
GLOB_CHARS = frozenset("*?[")


def resample_output(audio: np.ndarray, *, sr: int, length: int) -> np.ndarray:
    """Resample 16 kHz `audio` to `sr` Hz with exactly `length` samples (float32)."""
    if sr == SAMPLE_RATE:
        return audio
    return resample(audio, orig_sr=SAMPLE_RATE, target_sr=sr, length=length)


# --- Inputs and outputs of a run ------------------------------------------------------------
@dataclass
class Job:
    """One input of a run: where it goes, or why it cannot be converted."""

    label: str  # the input as the user wrote it (or as found in a folder)
    input: Path | None
    output: Path | None = None
    plot: Path | None = None
    error: str | None = None
    usage_error: bool = True  # the error is the input's or the command's (exit 2), not the run's
    note: str | None = None  # something the user should know about a converted input
    output_rate: int = SAMPLE_RATE  # the sample rate the output was written at
    peak: float | None = None  # the input file's largest absolute sample, as stored


def _is_audio(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in AUDIO_EXTENSIONS


def expand_inputs(specs: Sequence[str], *, target: str) -> tuple[list[Job], int]:
    """Turn command-line inputs (files, folders, glob patterns) into jobs, in order.

    Folders contribute the audio files directly inside them (sorted), except files named like
    earlier outputs for `target` (`inference.is_converted_name`: '*_angry.wav'). A path that
    does not exist and holds glob characters is expanded here (quoted patterns, Windows
    shells). The same file named twice is converted once. Inputs that match nothing become
    jobs with an error.

    Returns (jobs, number of earlier outputs skipped).
    """
    jobs: list[Job] = []
    seen: set[Path] = set()
    skipped = 0

    def add(path: Path, label: str) -> None:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            jobs.append(Job(label=label, input=path))

    for spec in specs:
        path = Path(spec)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if _is_audio(p))
            fresh = [p for p in found if not is_converted_name(p.name, target)]
            skipped += len(found) - len(fresh)
            if not fresh:
                jobs.append(Job(label=spec, input=None, error=(
                    f"{spec}: folder holds no audio files ({AUDIO_KINDS})" if not found else
                    f"{spec}: folder holds only earlier outputs (*_{target}.wav); name them "
                    "explicitly to convert them again")))
            for found_path in fresh:
                add(found_path, str(found_path))
        elif not path.exists() and GLOB_CHARS & set(spec):
            matches = sorted(Path(m) for m in glob.glob(spec, recursive=True))
            matches = [m for m in matches if _is_audio(m)]
            if not matches:
                jobs.append(Job(label=spec, input=None,
                                error=f"{spec}: no audio file matches this pattern"))
            for match in matches:
                add(match, str(match))
        else:
            add(path, spec)  # missing or unreadable files are reported when loaded
    return jobs, skipped


def plan_outputs(jobs: list[Job], *, target: str, output: Path | None, out_dir: Path | None,
                 plot: bool, force: bool, options: dict[str, Any] | None = None) -> None:
    """Give every job its output (and plot) path, or an error when one cannot be written.

    Outputs are named by `inference.converted_name` with the run's `options` (its strength,
    prosody, normalize and level-change keywords), so runs with other options write other
    files; inputs of one stem in several formats going to one folder (take.mp3, take.flac)
    get their format in the name too. An output may not be any input, may not exist unless
    `force`, and may not be shared by two inputs; its folder must be writable.
    """
    options = options or {}
    inputs = [job.input for job in jobs if job.input is not None]
    planned = [job for job in jobs if job.error is None and job.input is not None]

    def folder_of(job: Job) -> Path:
        return out_dir if out_dir is not None else job.input.parent

    stems: dict[tuple[Path, str], set[str]] = {}
    for job in planned:
        key = (folder_of(job).resolve(), job.input.stem)
        stems.setdefault(key, set()).add(job.input.suffix.lower())
    claimed: dict[Path, str] = {}
    for job in planned:
        if output is not None:
            written = output
        else:
            formats = stems[folder_of(job).resolve(), job.input.stem]
            written = folder_of(job) / converted_name(
                job.input.stem, target, **options,
                source_format=job.input.suffix if len(formats) > 1 else None)
        targets = [written] + ([written.with_suffix(".png")] if plot else [])
        try:
            for path in targets:
                check_output_path(path, inputs=inputs, force=force)
                other = claimed.get(path.resolve())
                if other is not None:
                    raise UserError(f"{path}: {other} writes this output too; convert them in "
                                    "separate runs or with different --out-dir")
        except UserError as exc:
            job.error = str(exc)
            continue
        for path in targets:
            claimed[path.resolve()] = job.label
        job.output = written
        job.plot = targets[1] if plot else None


def check_inputs(jobs: list[Job]) -> None:
    """Give every planned job whose input is missing, unreadable, empty, truncated or silent
    its error, reading the files but loading no model; record each input's peak."""
    for job in jobs:
        if job.error is None and job.input is not None:
            try:
                check_audio_file(job.input)
                job.peak = file_peak(job.input)
                check_audible_peak(job.peak, job.input)
            except AudioError as exc:
                job.error = str(exc)


def _check_out_dir(out_dir: Path) -> None:
    """UserError when `out_dir` is not a folder we can create or write into."""
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"--out-dir {out_dir}: exists and is not a folder")
    check_writable_folder(out_dir, name=f"--out-dir {out_dir}")


_sample_rate = number_in(4000, 384000, kind=int, what="sample rate in Hz (or 'input')")


def _parse_level_change(text: str) -> float | str:
    """--level-change: 'model' or a number of dB within the config limit."""
    if text.strip().lower() == MODEL_LEVEL:
        return MODEL_LEVEL
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'model' or a number of dB, got {text!r}"
                                         ) from None
    if not -LEVEL_CHANGE_LIMIT_DB <= value <= LEVEL_CHANGE_LIMIT_DB:
        raise argparse.ArgumentTypeError(f"must be from {-LEVEL_CHANGE_LIMIT_DB:g} to "
                                         f"{LEVEL_CHANGE_LIMIT_DB:g} dB, got {text}")
    return value


def level_change_db(choice: float | str, converter: Converter) -> float:
    """The dB a --level-change choice means for this model ('model': its learned amount)."""
    if choice == MODEL_LEVEL:
        return float(converter.settings.level_change_db)
    return float(choice)


def griffin_lim_options_given(args: argparse.Namespace) -> list[str]:
    """The Griffin-Lim flags given other values than their defaults ('--iters 64', ...)."""
    defaults = {"iters": GRIFFIN_LIM_ITERS, "phase": "source", "seed": 0}
    return [f"--{name} {getattr(args, name)}" for name, default in defaults.items()
            if getattr(args, name) != default]


def _parse_rate(text: str) -> int | str:
    """--sr value: 'input' or a sample rate in Hz."""
    return "input" if text.strip().lower() == "input" else int(_sample_rate(text))


def list_models(models_root: Path) -> int:
    """Print the models found in `models_root` (--list); 0, or 2 when there are none."""
    found = available_models(models_root)
    if not found:
        raise UserError(f"no trained model in {shown_path(models_root)}; "
                        f"{how_to_train('calm2anger', models_root)}")
    print(f"models in {shown_path(models_root)} (figures: evaluate.py on the test actors):")
    for model in found:
        if model["judged_target"] is not None:
            figures = (f"judged {model['target']} {100 * model['judged_target']:.0f}% (real "
                       f"recordings {100 * (model['real_judged_target'] or 0):.0f}%)")
            if model["word_error_rate"] is not None:
                figures += f", open word error {model['word_error_rate']:.2f}"
            figures += goal_note(model)
        else:
            figures = "not evaluated (python evaluate.py --pair " + model["pair"] + ")"
        flags = f"--emotion {model['target']}" + (
            f" --source {model['source']}" if model["source"] != DEFAULT_SOURCE else "")
        print(f"  {model['pair']:<14} {flags:<24} {figures}; {model['method']}; "
              f"{shown_path(model['folder'])}")
    return 0


def _pair_emotions(pair: str) -> tuple[str | None, str | None]:
    """(source, target) of a model folder's pair name, canonical; (None, None) if not a pair."""
    try:
        return parse_pair(pair)[1:]
    except UserError:
        return None, None


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="convert.py",
        description="Convert speech recordings to another emotion with a trained SpectroGAN "
                    "generator (same words, same voice).",
        epilog="examples:" + __doc__.split("Usage examples:", 1)[1],
        formatter_class=lambda prog: _HelpFormatter(prog, max_help_position=32))
    shipped = sorted({target for source, target in map(_pair_emotions, model_folders(RESULTS_DIR))
                      if source == DEFAULT_SOURCE})
    aliases = ", ".join(alias for alias, name in EMOTION_ALIASES.items() if name in shipped)
    parser.add_argument("inputs", nargs="*", metavar="INPUT",
                        help=f"audio files ({AUDIO_KINDS}, any rate and length), folders "
                             "of them, or glob patterns")
    parser.add_argument("--emotion", type=str.lower, choices=EMOTION_CHOICES,
                        metavar="EMOTION",
                        help="target emotion (required): one with a model in --models; "
                             + (f"the shipped models convert {DEFAULT_SOURCE} speech to "
                                f"{', '.join(shipped)}" + (f" (or {aliases})" if aliases else "")
                                if shipped else "no model is shipped beside this script")
                             + "; --list shows them with their figures")
    parser.add_argument("--list", action="store_true",
                        help="list the models in --models with their test figures and exit")
    parser.add_argument("--strength", type=number_in(0.0, 1.0, what="strength"), default=FULL_STRENGTH,
                        help="how much of the model's change to apply, 0-1: 0 is the vocoder "
                             "alone, 1 the full conversion, values between scale the "
                             "generator's correction (exactly for identity-start models)")
    parser.add_argument("--source", default=DEFAULT_SOURCE, type=str.lower,
                        choices=EMOTION_CHOICES, metavar="EMOTION",
                        help="emotion of the inputs (picks the <source>2<emotion> model)")
    parser.add_argument("--models", type=Path, default=RESULTS_DIR, metavar="DIR",
                        help="folder holding train_cyclegan.py's run folders (calm2anger/, ...); "
                             "the shipped models beside this script are found wherever you "
                             "run it from")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("-o", "--output", type=Path, default=None, metavar="OUT.wav",
                       help="output file (one input only; its folder is created if needed); "
                            "default <stem>_<emotion>.wav beside the input, with the options "
                            "that differ from the defaults added (_50, _noprosody, "
                            "_normalized, _level+6dB)")
    where.add_argument("--out-dir", type=Path, default=None, metavar="DIR",
                       help="write <stem>_<emotion>.wav into this folder (created if needed) "
                            "instead of beside each input")
    parser.add_argument("--iters", type=int, default=GRIFFIN_LIM_ITERS,
                        help="Griffin-Lim iterations (more = cleaner, slower); Griffin-Lim "
                             "models only: the shipped models synthesise with WORLD, which "
                             "this and the next two flags do not touch (--list shows each "
                             "model's vocoder)")
    parser.add_argument("--phase", choices=PHASES, default="source",
                        help="initial Griffin-Lim phase: the input's own phase or random "
                             "(Griffin-Lim models only)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of --phase random (Griffin-Lim models only)")
    parser.add_argument("--sr", type=_parse_rate, default=SAMPLE_RATE, metavar="{input,HZ}",
                        help="output sample rate: a rate in Hz, or 'input' for each input's own")
    parser.add_argument("--batch-size", type=int, default=CLI_BATCH_SIZE,
                        help="spectrogram windows per generator call (more = more memory; "
                             "faster only on a GPU)")
    parser.add_argument("--precision", choices=INFERENCE_PRECISIONS, default="float32",
                        help="generator arithmetic: bfloat16 is ~1.7x faster on CPUs with "
                             "AVX512-BF16/AMX and on GPUs, slightly less exact, slower elsewhere")
    parser.add_argument("--normalize", action="store_true",
                        help=f"bring each input to a {NORMALIZED_PEAK_DBFS:g} dBFS peak before "
                             "converting (for quiet recordings; default: the result keeps the "
                             "input's own loudness)")
    parser.add_argument("--level-change", type=_parse_level_change, default=0.0,
                        metavar="{model,DB}",
                        help="make the result louder (or softer): 'model' for the amount the "
                             "training actors' target emotion is louder than their calm "
                             "(shown by --list), or a number of dB, -30..30; peaks are limited "
                             "below full scale. The test figures are measured without it: "
                             "a listener at a fixed volume hears a louder clip as louder, not "
                             "as more emotional")
    parser.add_argument("--no-prosody", action="store_true",
                        help="keep the input's pitch and timing: only the model's envelope "
                             "change (for models that move prosody; see --list)")
    parser.add_argument("--plot", action="store_true",
                        help="also write <output stem>.png: input and converted spectrograms")
    parser.add_argument("--force", action="store_true",
                        help="overwrite existing outputs (inputs are never overwritten)")
    return parser


class _HelpFormatter(argparse.RawDescriptionHelpFormatter,
                     argparse.ArgumentDefaultsHelpFormatter):
    """Keep the epilog's examples as written and show every default (but not 'None')."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.required:
            return action.help
        return super()._get_help_string(action)


# --- Command line ---------------------------------------------------------------------------
def _convert_job(job: Job, converter: Converter, args: argparse.Namespace, *, source: str,
                 target: str, progress: Callable[[float], None]) -> float:
    """Convert one planned job; returns the input's duration in seconds. Raises on failure."""
    import soundfile

    assert job.input is not None and job.output is not None
    audio = load_audio(job.input)
    check_not_silent(audio, job.input)
    # The file's own peak: resampling a clipped 16-bit file overshoots full scale a little.
    peak = job.peak if job.peak is not None else float(np.max(np.abs(audio)))
    if peak > 1.0 and not args.normalize:
        job.note = (f"{job.input.name} peaks at {20 * np.log10(peak):+.1f} dBFS, above full "
                    "scale: the result has its loudness scaled down to fit a file, peaks "
                    "limited (--normalize converts it at a -1 dBFS peak instead)")
    elif peak < QUIET_PEAK and not args.normalize:
        job.note = (f"{job.input.name} is quiet (peak {20 * np.log10(peak):.1f} dBFS) and the "
                    "result keeps its loudness; --normalize brings it to a -1 dBFS peak first")
    if args.normalize:
        audio, _ = fit_full_scale(audio, peak_dbfs=NORMALIZED_PEAK_DBFS)
    asked_db = level_change_db(args.level_change, converter)
    converted = converter.convert(audio, n_iter=args.iters, phase=args.phase, seed=args.seed,
                                  batch_size=args.batch_size, strength=args.strength,
                                  prosody=not args.no_prosody, level_change_db=asked_db,
                                  progress=progress)
    held_back = level_change_note(asked_db, level_change_reached_db(converted, audio))
    if held_back:
        job.note = "; ".join(filter(None, [job.note, f"{job.input.name}: {held_back}"]))
    rate, length = args.sr, converted.shape[0]
    if rate == "input" or rate != SAMPLE_RATE:
        info = soundfile.info(str(job.input))
        if rate == "input":
            rate = info.samplerate
        # A prosody change may alter the duration: the output keeps its ratio to the input.
        length = round(info.frames * rate / info.samplerate * converted.shape[0]
                       / audio.shape[0])
    write_audio(job.output, resample_output(converted, sr=rate, length=length), sr=rate)
    job.output_rate = int(rate)
    if job.plot is not None:
        plot_conversion(job.plot, audio, converted,
                        titles=(f"{job.input.name}: input ({source})",
                                f"{job.output.name}: converted to {target}"))
    return audio.shape[0] / SAMPLE_RATE


def _duration(path: Path | None) -> float:
    """Seconds of audio in `path` for the progress bar (0 when unknown)."""
    import soundfile

    try:
        return float(soundfile.info(str(path)).duration)
    except Exception:  # unreadable files fail properly (with a message) when converted
        return 0.0


def _convert_all(todo: list[Job], converter: Converter, args: argparse.Namespace, *,
                 source: str, target: str) -> float:
    """Convert the checked jobs in order under one progress bar (on a terminal), each failure
    its job's error and the batch going on; returns the seconds of audio converted."""
    from tqdm import tqdm

    durations = [_duration(job.input) for job in todo]
    converted_seconds = 0.0
    bar_format = "{l_bar}{bar}| {n:.1f}/{total:.1f} s of audio [{elapsed}<{remaining}{postfix}]"
    with tqdm(total=sum(durations), desc="converting", bar_format=bar_format,
              disable=None) as bar:
        for job, duration in zip(todo, durations):
            done_before = bar.n
            bar.set_postfix_str(job.input.name if job.input else "")

            def progress(fraction: float, base: float = done_before, span: float = duration
                         ) -> None:
                bar.update(base + fraction * span - bar.n)

            try:
                converted_seconds += _convert_job(job, converter, args, source=source,
                                                  target=target, progress=progress)
            except UserError as exc:  # AudioError included: unreadable, empty, silent, ...
                job.error = str(exc)
            except OSError as exc:  # the write refused: a full disk, a folder gone
                job.error = f"{exc.filename or job.label}: {exc.strerror or exc}"
                job.usage_error = False
            except Exception as exc:  # noqa: BLE001 - one bad file must not stop a batch
                first_line = (str(exc).strip().splitlines() or [""])[0]
                job.error = f"{job.label}: cannot convert ({type(exc).__name__}: {first_line})"
                job.usage_error = False
            if job.error is not None:
                tqdm.write(f"error: {job.error}", file=sys.stderr)
                bar.update(done_before + duration - bar.n)
            else:
                extra = f" and {job.plot}" if job.plot is not None else ""
                tqdm.write(f"wrote {job.output}{extra}{input_note(job.input, sr=job.output_rate)}")
                if job.note:
                    tqdm.write(f"note: {job.note}", file=sys.stderr)

    return converted_seconds


@cli_main
def main(argv: list[str] | None = None) -> int:
    """Command-line entry: convert INPUT... to --emotion; see the module docstring."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.list:
        return list_models(args.models)
    if not args.inputs or args.emotion is None:
        parser.error("give the INPUT file(s) and --emotion (or --list to see the models)")
    if args.iters < 0:
        raise UserError(f"--iters must be >= 0, got {args.iters}")
    if args.batch_size < 1:
        raise UserError(f"--batch-size must be >= 1, got {args.batch_size}")
    source, target = canonical_emotion(args.source), canonical_emotion(args.emotion)
    if source == target:
        raise UserError(f"--source and --emotion are both {target!r}; nothing to convert")
    if args.output is not None and args.output.suffix.lower() != ".wav":
        raise UserError(f"-o {args.output}: outputs are wav files; give a name ending in .wav")
    if args.out_dir is not None:
        _check_out_dir(args.out_dir)

    jobs, skipped = expand_inputs(args.inputs, target=target)
    if args.output is not None and len(jobs) > 1:
        raise UserError(f"-o {args.output} takes exactly one input, got {len(jobs)}; use "
                        "--out-dir DIR for several")
    plan_outputs(jobs, target=target, output=args.output, out_dir=args.out_dir, plot=args.plot,
                 force=args.force, options={"strength": args.strength,
                                            "prosody": not args.no_prosody,
                                            "normalized": args.normalize,
                                            "level_change": args.level_change})
    check_inputs(jobs)
    failed = [job for job in jobs if job.error is not None]
    for job in failed:
        print(f"error: {job.error}", file=sys.stderr)
    todo = [job for job in jobs if job.error is None]
    if not todo:
        return 2  # every input was unusable: no need to load the model

    # A missing model is said before the model loads, and so are options its vocoder ignores.
    model_dir, _, config = find_converter(args.models, source, target)
    ignored = griffin_lim_options_given(args)
    vocoder = read_settings(model_dir, config).vocoder
    if ignored and not isinstance(vocoder, GriffinLim):
        print(f"note: {', '.join(ignored)} apply to Griffin-Lim models only; "
              f"{shown_path(model_dir)} synthesises with {vocoder.label}, so "
              f"{'it changes' if len(ignored) == 1 else 'they change'} nothing",
              file=sys.stderr)
    started = time.perf_counter()
    converter = load_converter(args.models, source, target, precision=args.precision)
    loaded = time.perf_counter() - started
    print(f"loaded {shown_path(converter.folder)} ({source} -> {target}, generator "
          f"{converter.direction}, {args.precision}) in {loaded:.1f} s", file=sys.stderr)

    converted_seconds = _convert_all(todo, converter, args, source=source, target=target)
    failed += [job for job in todo if job.error is not None]
    elapsed = time.perf_counter() - started
    converted = len(jobs) - len(failed)
    if len(jobs) > 1 or skipped:
        speed = (f", {converted_seconds / (elapsed - loaded):.1f}x real time"
                 if converted_seconds and elapsed > loaded else "")
        note = (f"; skipped {skipped} earlier output(s) (*_{target}.wav) found in folders"
                if skipped else "")
        print(f"converted {converted} of {len(jobs)} file(s), {converted_seconds:.1f} s of audio "
              f"in {elapsed:.1f} s{speed}; {len(failed)} failed{note}", file=sys.stderr)
    if any(not job.usage_error for job in failed):
        return 1
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
