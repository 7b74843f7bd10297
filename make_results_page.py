"""Generate the results page, results/README.md, from evaluate.py's metrics.json.

The page holds, for every source emotion with at least one trained pair, a grid of a few
held-out clips (speakers no model or classifier saw): rows are the source clip and, for each
trained target emotion, the converted clip and the same actor's real recording of that
emotion; every cell is a small spectrogram image linking to its audio. Below the grid come
evaluate.py's metric tables of every evaluated pair with their baselines, and the RAVDESS
attribution. Pairs whose model was chosen by `evaluate.py --select-epoch` (a
`<models>/<pair>/selection.json`) get a line on the chosen epoch and its validation figures.
With no trained model the page still shows the baseline tables, and says so.

The committed files stay small: clips are trimmed of leading/trailing silence and written as
16 kHz 16-bit mono wav, images are 400x200 px 32-colour PNGs (about 20 kB), so two clips of
seven pairs come to about 2.5 MB. Only files this script names are written (under
results/samples/); README.md is replaced only if this script wrote it (or with --force).
With the default --out, the table of what ships in the project's own README.md (between its
shipped-table markers) is refreshed from the same metrics.json, so the guide never quotes
other figures than the results page.

Usage:
    python evaluate.py --all && python make_results_page.py
    python make_results_page.py --clips 3 --ravdess ../shared/data/ravdess
    python make_results_page.py --metrics results/metrics.json --out results --force
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from spectrogan.core.atomic_files import atomic_output
from spectrogan.core.cli import cli_main, non_negative_int, positive_int
from spectrogan.core.errors import UserError
from spectrogan.data.corpus import (CORPUS_TITLES, STATEMENTS, default_crema, default_ravdess,
                                    emotions_in_corpus, matching_target, parse_pair, scan_ravdess)
from spectrogan.data.crema import CREMA_SENTENCES, scan_crema
from spectrogan.conversion.inference import load_converter
from spectrogan.evaluation.metrics import speech_span, trim_silence
from spectrogan.evaluation.reports import (check_generated, metrics_markdown, read_metrics,
                                           replace_shipped_table, selection_verdict, shipped_table,
                                           write_generated)
from spectrogan.model.runs import (RESULTS_DIR, SELECTION_JSON, read_config, read_selection,
                                   read_settings, same_folder, selection_rule_text)
from spectrogan.audio.audio_files import load_audio, write_audio
from spectrogan.audio.spectro import GRIFFIN_LIM_ITERS, magnitude_to_image, stft
from spectrogan.evaluation.vocoder_report import VOCODERS_JSON, path_labels, vocoder_table

THUMB_SIZE = (200, 400)  # (height, width) px of a cell's spectrogram image
THUMB_LEVELS = 32  # colours of the palette PNG: 2.5 dB steps over the 80 dB range
SCRIPT = "make_results_page.py"
GUIDE = Path(__file__).resolve().parent / "README.md"
ATTRIBUTION = """\
## Audio and licence

The figures on this page are measured on, and its clips are taken or converted from, the Ryerson
Audio-Visual Database of Emotional Speech and Song (RAVDESS): Livingstone SR, Russo FA (2018),
*PLoS ONE* 13(5): e0196391, https://doi.org/10.1371/journal.pone.0196391, data at
https://zenodo.org/record/1188976. RAVDESS is licensed under CC BY-NC-SA 4.0
(https://creativecommons.org/licenses/by-nc-sa/4.0/); the clips here are trimmed and, in the
converted rows, modified by a SpectroGAN model, and are shared under the same licence, for
non-commercial use only.

The CREMA-D figures and clips come from the Crowd-sourced Emotional Multimodal Actors Dataset:
Cao H, Cooper DG, Keutmann MK, Gur RC, Nenkova A, Verma R (2014), *IEEE Transactions on
Affective Computing* 5(4): 377-390, https://github.com/CheyneyComputerScience/CREMA-D,
released under the Open Database License (ODbL 1.0,
https://opendatacommons.org/licenses/odbl/1-0/), its contents under the Database Contents
License (DbCL 1.0); the clips here are trimmed and, in the converted rows, modified by a
SpectroGAN model."""


def spectrogram_thumbnail(path: str | os.PathLike, audio: np.ndarray, *,
                          size: tuple[int, int] = THUMB_SIZE,
                          levels: int = THUMB_LEVELS) -> Path:
    """Write a small palette PNG of `audio`'s spectrogram image (no axes), atomically.

    The project's dB image (spectro.magnitude_to_image: 0 Hz at the bottom, 80 dB range) is
    resampled linearly to `size` (height, width) px and quantised to `levels` magma colours.
    """
    import matplotlib
    from PIL import Image
    from scipy.ndimage import zoom

    image, _ = magnitude_to_image(np.abs(stft(np.asarray(audio, dtype=np.float32))))
    image = image[::-1]  # row 0 = highest frequency, as images are drawn
    small = zoom(image, (size[0] / image.shape[0], size[1] / image.shape[1]), order=1)
    index = np.clip(np.round((small + 1.0) / 2.0 * (levels - 1)), 0, levels - 1)
    palette = matplotlib.colormaps["magma"](np.linspace(0.0, 1.0, levels))[:, :3]
    rows, columns = index.shape
    # A palette image straight from the indices (Image.fromarray's mode= is deprecated).
    picture = Image.frombytes("P", (columns, rows), index.astype(np.uint8).tobytes())
    picture.putpalette((palette * 255).round().astype(np.uint8).ravel().tolist())
    with atomic_output(path) as tmp:
        picture.save(tmp, format="PNG", optimize=True)
    return Path(path)


def sentence_of(clip: Any) -> str:
    """The words a RAVDESS or CREMA-D clip says."""
    if isinstance(clip.statement, str):
        return CREMA_SENTENCES[clip.statement]
    return STATEMENTS[clip.statement - 1]


def pick_clips(files: Sequence[Any], source: str, actors: Sequence[int], count: int
               ) -> list[Any]:
    """`count` of the held-out actors' `source` clips for the grid: normal intensity,
    first repetition, alternating actors (so both sexes show up) and a different sentence
    each time where the corpus has one."""
    chosen: list[Any] = []
    for actor in list(actors) * 2:
        candidates = [f for f in files if f.actor == actor and f.emotion == source
                      and f.repetition == 1 and f.intensity == "normal" and f not in chosen]
        said = {f.statement for f in chosen}
        fresh = [f for f in candidates if f.statement not in said] or candidates
        if fresh:
            chosen.append(fresh[0])
        if len(chosen) == count:
            break
    return chosen


def _cell(out: Path, stem: str, audio: np.ndarray, title: str) -> str:
    """Write `<stem>.wav` and `<stem>.png` under out/samples; the markdown cell linking them."""
    samples = out / "samples"
    wav = write_audio(samples / f"{stem}.wav", audio)
    png = spectrogram_thumbnail(samples / f"{stem}.png", audio)
    return (f"[![{title}]({png.relative_to(out).as_posix()})]"
            f"({wav.relative_to(out).as_posix()})")


def sample_grid(out: Path, source: str, entries: list[dict[str, Any]],
                files: Sequence[Any], *, models: Path, clips: int, n_iter: int,
                spoken: str | None = None) -> str:
    """Markdown grid for one source emotion: rows = source, then per trained target the
    converted and the real clip; columns = held-out clips. Converts with each pair's model.
    `spoken`: what the source is in this corpus (CREMA-D's neutral for calm)."""
    from tqdm import tqdm

    spoken = spoken or source
    actors = entries[0]["test_actors"]
    chosen = pick_clips(files, spoken, actors, clips)
    if not chosen:
        return f"(no held-out {spoken} clips of actors {actors} found for the grid)\n"
    sources = {f: load_audio(f.path) for f in chosen}
    header = "| | " + " | ".join(
        f"actor {f.actor}" + (f" ({f.sex})" if f.sex != "unknown" else "")
        + f": “{sentence_of(f)}”" for f in chosen) + " |"
    rows = [header, "|---|" + "---|" * len(chosen)]
    rows.append(f"| **{spoken}** (source) | " + " | ".join(
        _cell(out, f"{spoken}_a{f.actor:02d}_s{f.statement}", trim_silence(sources[f]),
              f"{spoken}, actor {f.actor}") for f in chosen) + " |")
    for entry in tqdm(entries, desc=f"{source} grid", unit="pair", disable=None):
        target = entry["target"]
        converter = load_converter(models, source, target)
        converted, real = [], []
        for f in chosen:
            audio = converter.convert(sources[f], n_iter=n_iter)
            # Cut to the source's speech span, so source and converted rows line up in time.
            start, stop = speech_span(sources[f])
            converted.append(_cell(out, f"{entry['pair']}_a{f.actor:02d}_s{f.statement}",
                                   audio[start:stop],
                                   f"{target} (converted), actor {f.actor}"))
            match = matching_target(files, f, target)
            real.append(_cell(out, f"{target}_a{f.actor:02d}_s{f.statement}_real",
                              trim_silence(load_audio(match.path)),
                              f"{target} (real), actor {f.actor}") if match else "n/a")
        del converter
        rows.append(f"| **{target}** (converted) | " + " | ".join(converted) + " |")
        rows.append(f"| {target} (real) | " + " | ".join(real) + " |")
    return "\n".join(rows) + "\n"


def selection_section(metrics: dict[str, Any], models: Path) -> list[str]:
    """Markdown lines on the epoch each pair ships ([] when no `<models>/<pair>/selection.json`
    exists): `reports.selection_verdict` per pair, flagged when the pair's test figures in
    `metrics` are older than its selection."""
    lines = []
    for path in sorted(models.glob(f"*/{SELECTION_JSON}")):
        selection = read_selection(path)
        line = f"* {selection_verdict(selection)}; details in `{path.parent.name}/selection.md`."
        config = read_config(path.parent)
        settings = read_settings(path.parent, config)
        records = config.get("inference") or {}  # how each setting was chosen
        if settings.envelope_cut:
            chosen = records.get("chosen_on") or {}
            line += (f" It converts with the post-hoc envelope cut: only the first "
                     f"{settings.envelope_cut} DCT coefficients of its change along "
                     "frequency are applied (chosen on validation actors "
                     f"{', '.join(map(str, chosen.get('val_actors', [])))} among K = "
                     f"{', '.join(map(str, chosen.get('candidates', [])))})."
                     if chosen else " It converts with the post-hoc envelope cut.")
        if settings.level_change_db:
            line += (f" It has a learned level change of {settings.level_change_db:+.1f} dB "
                     "(`level_change.md`), applied only when asked (`convert.py "
                     "--level-change model`); the figures here are measured at the input's "
                     "own loudness.")
        chosen_prosody = records.get("prosody_chosen_on")
        chosen_conversion = records.get("conversion_chosen_on")
        if chosen_conversion:
            line += (f" It converts with {settings.world_changes()} "
                     f"({settings.vocoder.label}): '{chosen_conversion['candidate']}' was chosen "
                     "among the pair's models (the shipped one and any retrained), each as it "
                     "converts, with the contour model's prosody, with the global prosody "
                     "statistics of both corpora and with the contour model's shape at their "
                     "level, on validation actors "
                     f"{', '.join(map(str, chosen_conversion['val_actors']))}, judged "
                     f"{selection['target']} {100 * chosen_conversion['judged_target']:.0f}% "
                     f"there (`conversion_choice/{selection['pair']}_conversion.md`).")
        elif chosen_prosody:
            line += (f" It converts with the WORLD vocoder, applying {settings.world_changes()}, "
                     "each learned on its training actors; arm "
                     f"'{chosen_prosody['arm']}' was chosen on validation actors "
                     f"{', '.join(map(str, chosen_prosody['val_actors']))} "
                     "(`prosody_ablation.md`)")
            if chosen_prosody.get("judged_target") is not None:
                line += (f", judged {selection['target']} "
                         f"{100 * chosen_prosody['judged_target']:.0f}% there. The epoch's "
                         "figures before it are the network's alone, through Griffin-Lim, "
                         "measured before this way of converting was chosen, so the two differ")
            line += "."
        entry = metrics["pairs"].get(selection.get("pair"))
        # ISO 8601 UTC stamps of the same format compare as text.
        if entry is None or str(entry.get("evaluated", "")) < str(selection.get("selected", "")):
            line += (" The test tables below predate this choice: run `python evaluate.py "
                     "--all` and this script again.")
        lines.append(line)
    if not lines:
        return []
    return ["## Which epoch ships", "",
            "Each pair's model is the training epoch chosen on validation actors (neither "
            "trained on nor used for the test tables) by `python evaluate.py --select-epoch`, "
            "by this rule: "
            + selection_rule_text() + " (a selection made before a guard existed did not "
            "apply it: each line below names the guards its selection used).", "",
            *lines, ""]


# Figures made by tools, one per pair: (file pattern, heading, what it shows).
FIGURE_SECTIONS = (
    ("harmonics_*.png", "What the models do to the harmonics of a low voice",
     "The 0-1.2 kHz band of a held-out male speaker's calm clip (F0 near 100 Hz, so his "
     "harmonics lie three STFT bins apart): the input, the vocoder alone, and each model's "
     "conversion. A model that fills the valleys between the harmonic lines turns voiced speech "
     "into noise (voicing and words suffer); one that keeps the lines keeps the voice. Made with "
     "`tools/harmonics_figure.py`."),
    ("contour_*.png", "What the conversion does to the pitch and loudness contours",
     "The F0 contour (WORLD's Harvest, semitones re 100 Hz) and, below it, the frame level (dB "
     "re the clip's loudest frame) of a test actor's calm clip before and after the conversion "
     "as it ships, beside the same actor's real clip of the target emotion; where a pair ships "
     "the global prosody change (or none), the conversion with the contour model's prosody in "
     "its place is drawn too. Made with `python "
     "tools/contour_figure.py CLIP --emotion E --contour results/contour_model -o PNG`."),
)


def figure_sections(out: Path) -> list[str]:
    """A linked list of each kind of figure found in `out` (FIGURE_SECTIONS), if any."""
    lines: list[str] = []
    for pattern, heading, text in FIGURE_SECTIONS:
        figures = sorted(out.glob(pattern))
        if figures:
            prefix = pattern.split("*")[0]
            lines += [f"## {heading}", "", text, ""]
            lines += [f"* [{figure.stem.replace(prefix, '')}]({figure.name})"
                      for figure in figures]
            lines.append("")
    return lines


def vocoder_section(out: Path) -> list[str]:
    """What each vocoder costs alone on the test actors (`evaluate.py --vocoders` wrote
    out/vocoders.json), if measured: the tables, the shipped path marked."""
    path = out / VOCODERS_JSON
    if not path.is_file():
        return []
    try:
        report = json.loads(path.read_text())
        labels = path_labels(report)
        table = vocoder_table(report, labels=labels)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{path}: not a vocoder report ({exc}); run `python evaluate.py "
                        "--vocoders` again") from None
    return ["## What the vocoder alone costs", "",
            "Each test actor's calm (CREMA-D: neutral) clip through each vocoder path with no "
            "change, beside the input itself: the floor every conversion starts from. WORLD's "
            "analysis was chosen on the validation actors with `tools/choose_vocoder.py`; "
            "naturalness is Distill-MOS's prediction (1-5) of the speech span. Made with "
            "`python evaluate.py --vocoders`.", "", table]


def corpus_grids(metrics: dict[str, Any], *, out: Path, models: Path, crema: Path | None,
                 clips: int, n_iter: int) -> list[str]:
    """The listening grids of the corpora besides RAVDESS (CREMA-D's test actors), one per
    source emotion, for the pairs with a converted row there; [] without the corpus."""
    parts: list[str] = []
    crema_pairs = ((metrics.get("corpora") or {}).get("crema") or {}).get("pairs") or {}
    trained = [e for e in crema_pairs.values() if e.get("model") and e["systems"].get("converted")]
    folder = crema if crema is not None else default_crema()
    if not trained or not folder.is_dir():
        return parts
    files = scan_crema(folder)
    by_source: dict[str, list[dict[str, Any]]] = {}
    for entry in sorted(trained, key=lambda e: e["pair"]):
        by_source.setdefault(parse_pair(entry["pair"])[1], []).append(entry)
    for source, entries in by_source.items():
        spoken = emotions_in_corpus("crema", source, entries[0]["target"])[0]
        parts += [f"### From {spoken} ({CORPUS_TITLES['crema']} test actors: other speakers, "
                  "other sentences, other rooms)", "",
                  sample_grid(out, source, entries, files, models=models, clips=clips,
                              n_iter=n_iter, spoken=spoken)]
    return parts


def build_page(metrics: dict[str, Any], *, out: Path, models: Path, ravdess: Path | None,
               clips: int, n_iter: int, crema: Path | None = None) -> str:
    """The page's markdown; writes the sample audio and images it links under out/samples."""
    trained = [e for e in metrics["pairs"].values()
               if e.get("model") and e["systems"].get("converted")]
    parts = ["# SpectroGAN results", "",
             f"Generated by `{SCRIPT}` from `metrics.json` (written by `evaluate.py`); do not "
             f"edit by hand. Regenerate with `python evaluate.py --all && python {SCRIPT}`.", ""]
    parts += ["## Listen", ""]
    if not trained:
        parts += ["**No model is trained yet.** The tables below hold the baselines only (real "
                  "and vocoder-only clips). Once a pair is trained (`python train_cyclegan.py "
                  "--pair calm2anger`), run `python evaluate.py --all` and this script again to "
                  "add the converted rows and a grid of converted held-out clips here.", ""]
    else:
        files = scan_ravdess(ravdess if ravdess is not None else default_ravdess())
        parts += ["Held-out speakers only. Click a spectrogram to hear its clip (16 kHz wav, "
                  "silence trimmed).", ""]
        by_source: dict[str, list[dict[str, Any]]] = {}
        for entry in sorted(trained, key=lambda e: e["pair"]):
            by_source.setdefault(parse_pair(entry["pair"])[1], []).append(entry)
        for source, entries in by_source.items():
            parts += [f"### From {source}", "",
                      sample_grid(out, source, entries, files, models=models, clips=clips,
                                  n_iter=n_iter)]
        parts += corpus_grids(metrics, out=out, models=models, crema=crema, clips=clips,
                              n_iter=n_iter)
    parts += figure_sections(out)
    parts += vocoder_section(out)
    parts += selection_section(metrics, models)
    parts.append(metrics_markdown(metrics, heading="## Objective evaluation"))
    parts.append(ATTRIBUTION)
    return "\n".join(parts) + "\n"


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser of make_results_page.py."""
    parser = argparse.ArgumentParser(
        prog=SCRIPT, description=__doc__.split("\n\n")[0],
        epilog="Usage:" + __doc__.split("Usage:", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--metrics", type=Path, default=None, metavar="FILE",
                        help="metrics.json written by evaluate.py (default: OUT/metrics.json)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, metavar="DIR",
                        help="folder of the page: README.md and samples/ (default: results/ "
                             "beside this script)")
    parser.add_argument("--models", type=Path, default=RESULTS_DIR, metavar="DIR",
                        help="folder of trained run folders <pair>/ (default: results/ beside "
                             "this script)")
    parser.add_argument("--ravdess", type=Path, default=None, metavar="DIR",
                        help="RAVDESS folder, needed only when a model is trained (default: "
                             "data/ravdess if present, else ../shared/data/ravdess)")
    parser.add_argument("--crema", type=Path, default=None, metavar="DIR",
                        help="CREMA-D folder, for the grid of its test actors when metrics.json "
                             "has CREMA-D tables (default: ../shared/data/crema if present)")
    parser.add_argument("--clips", type=positive_int, default=2, metavar="N",
                        help="held-out clips per grid (default: 2)")
    parser.add_argument("--iters", type=non_negative_int, default=GRIFFIN_LIM_ITERS,
                        help=f"Griffin-Lim iterations (default: {GRIFFIN_LIM_ITERS})")
    parser.add_argument("--force", action="store_true",
                        help="replace a README.md this script did not write (default: refuse)")
    parser.add_argument("--guide", type=Path, default=None, metavar="FILE",
                        help="README whose table of what ships is refreshed (default: the "
                             "project's README.md when --out is results/, else none)")
    return parser


@cli_main
def main(argv: list[str] | None = None) -> int:
    """Command-line entry: write OUT/README.md (and its samples) from metrics.json."""
    args = build_parser().parse_args(argv)
    metrics_path = args.metrics or args.out / "metrics.json"
    if not metrics_path.is_file():
        raise UserError(f"{metrics_path}: no such file; run `python evaluate.py --all` (or "
                        "`--all --baselines-only`) first, or pass --metrics FILE")
    metrics = read_metrics(metrics_path)
    page = args.out / "README.md"
    check_generated(page, script=SCRIPT, force=args.force)
    text = build_page(metrics, out=args.out, models=args.models, ravdess=args.ravdess,
                      clips=args.clips, n_iter=args.iters, crema=args.crema)
    write_generated(page, text, script=SCRIPT)
    guide = args.guide or (GUIDE if same_folder(args.out, RESULTS_DIR) else None)
    if guide is not None:
        updated = replace_shipped_table(guide.read_text(), shipped_table(metrics))
        with atomic_output(guide) as tmp:
            tmp.write_text(updated)
        print(f"refreshed the table of what ships in {guide}")
    samples = args.out / "samples"
    note = ""
    if samples.is_dir():
        size = sum(p.stat().st_size for p in samples.iterdir() if p.is_file())
        note = f"; {samples} holds {size / 1e6:.1f} MB"
    print(f"wrote {page} ({len(metrics['pairs'])} pair(s){note})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
