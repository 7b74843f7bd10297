"""tools/choose_conversion.py: the candidates it scores for a pair and how it installs the
winner (scoring itself is evaluation/selection's, tested with it)."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import pytest

from spectrogan.conversion.inference import load_converter
from spectrogan.core.errors import UserError
from spectrogan.model.runs import generator_path, read_config, read_settings, write_settings
from spectrogan.stages.contour_prosody import ContourProsody
from spectrogan.stages.prosody import ProsodyChange
from spectrogan.stages.spectral_balance import SpectralBalance

from conftest import load_tool
from helpers import save_tiny_contour_model

tool = load_tool("choose_conversion")


def _roots(tmp_path: Path, run: Path) -> tuple[Path, Path, Path]:
    """(home root, other root, contour model): the same tiny run in both roots, the other's
    generator weights nudged so it is another model."""
    import h5py

    home, other = tmp_path / "results", tmp_path / "retrained"
    shutil.copytree(run, home / "calm2anger")
    shutil.copytree(run, other / "calm2anger")
    with h5py.File(generator_path(other / "calm2anger"), "r+") as weights:
        first = []
        weights.visititems(lambda name, item: first.append(item)
                           if isinstance(item, h5py.Dataset) and item.size > 1 else None)
        first[0][...] = first[0][()] * 1.5 + 0.01
    contour = tmp_path / "contour_model"
    save_tiny_contour_model(contour)
    return home, other, contour


def test_every_root_gives_its_own_and_a_contour_candidate_once(tmp_path, fast_tiny_run):
    home, other, contour = _roots(tmp_path, fast_tiny_run[0])
    options = tool.pair_options("calm2anger", [home, other, tmp_path / "empty"], contour)
    assert [(o.root, o.prosody) for o in options] == [
        (home, "as it converts"), (home, "contour model"),
        (other, "as it converts"), (other, "contour model")]
    for option in options:
        assert (option.settings.stage(ContourProsody) is not None) == (
            option.prosody == "contour model")
        assert option.settings.vocoder.name == (
            "world" if option.prosody == "contour model"
            else read_settings(option.folder).vocoder.name)
    # a root that only copies another's model adds nothing to score
    shutil.copytree(home, tmp_path / "copy")
    assert len(tool.pair_options("calm2anger", [home, tmp_path / "copy"], contour)) == 2
    # with learned global statistics, each root gives them too, in place of the contour model
    change = ProsodyChange(3.0, 1.2, 0.9)
    options = tool.pair_options("calm2anger", [home, other], contour, {ProsodyChange: change,
                                SpectralBalance: _balance(1.0)}.get)
    assert [(o.root, o.prosody) for o in options] == [
        (root, prosody) for root in (home, other) for prosody in tool.PROSODY]
    for option in options[2::4]:
        assert option.settings.stage(ProsodyChange) == change
        assert option.settings.stage(ContourProsody) is None
        assert option.settings.vocoder.name == "world"
        assert option.settings.stage(SpectralBalance) is None  # the model has none to relearn
    for option in options[3::4]:  # the contour model at the global change's level
        assert option.settings.stage(ContourProsody).level == change
        assert option.settings.stage(ProsodyChange) is None


def _balance(gain_db: float):
    from spectrogan.stages.spectral_balance import BAND_COUNT

    return SpectralBalance((gain_db,) * BAND_COUNT)


def test_the_contour_and_global_candidates_relearn_the_model_s_balance(tmp_path, fast_tiny_run):
    """A model converting with a spectral balance: the three learned-prosody candidates use the
    relearned balance, and differ only in their prosody."""
    home, _, contour = _roots(tmp_path, fast_tiny_run[0])
    folder = home / "calm2anger"
    write_settings(folder, read_settings(folder).with_vocoder("world").with_stage(_balance(2.0)))
    relearned = {ProsodyChange: ProsodyChange(3.0), SpectralBalance: _balance(-1.0)}
    own, with_contour, with_global, at_level = tool.pair_options("calm2anger", [home],
                                                                 contour, relearned.get)
    assert own.settings.stage(SpectralBalance) == _balance(2.0)
    for option in (with_contour, with_global, at_level):
        assert option.settings.stage(SpectralBalance) == _balance(-1.0)
    assert with_contour.settings.without(ContourProsody) == with_global.settings.without(
        ProsodyChange) == at_level.settings.without(ContourProsody)
    with pytest.raises(UserError, match="train_cyclegan.py --pair calm2sad"):
        tool.pair_options("calm2sad", [home], contour)


def test_installing_another_roots_model_keeps_the_one_it_replaces(tmp_path, fast_tiny_run):
    home, other, contour = _roots(tmp_path, fast_tiny_run[0])
    shipped = generator_path(home / "calm2anger").read_bytes()
    option = tool.pair_options("calm2anger", [home, other], contour)[3]  # other + contour
    args = argparse.Namespace(models=[home, other], out=tmp_path / "out", contour=contour)
    chosen = {"judged_target": 0.5, "voiced_fraction": 0.6, "word_error_rate": 0.3}
    tool.install(option, chosen, {"val_actors": [15], "guard_held": True}, pair="calm2anger",
                 args=args)

    installed = home / "calm2anger"
    assert generator_path(installed).read_bytes() == generator_path(
        other / "calm2anger").read_bytes()
    assert generator_path(tmp_path / "out" / "replaced" / "calm2anger").read_bytes() == shipped
    record = read_config(installed)["inference"]["conversion_chosen_on"]
    assert record["candidate"].endswith("retrained: contour model")
    assert record["judged_target"] == 0.5
    # the contour model is named from its new folder, and the folder converts
    converter = load_converter(home, "calm", "angry")
    stage = converter.settings.stage(ContourProsody)
    assert stage is not None and stage.model == "../../contour_model"
    audio = np.sin(2 * np.pi * 140 * np.arange(8000) / 16000).astype(np.float32) * 0.3
    assert np.isfinite(converter.convert(audio)).all()

    # a second install keeps the first replaced model too
    again = [o for o in tool.pair_options("calm2anger", [home, other], contour)
             if o.root == other]
    assert [o.prosody for o in again] == ["as it converts"]  # its contour one is installed
    tool.install(again[0], chosen, {"val_actors": [15], "guard_held": True},
                 pair="calm2anger", args=args)
    assert read_settings(installed).stage(ContourProsody) is None
    assert len(list((tmp_path / "out" / "replaced").iterdir())) == 2
