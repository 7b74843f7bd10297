"""runs.py: the run folder's config and the snapshot a selection installs (no Keras)."""

from __future__ import annotations

import json

import pytest

from spectrogan.model import runs
from spectrogan.stages.conversion_settings import ConversionSettings
from spectrogan.core.errors import UserError


def test_installing_a_snapshot_keeps_the_sections_chosen_after_training(tmp_path):
    run = tmp_path / "calm2happy"
    inference = {"vocoder": "world", "prosody": {"f0_shift_semitones": 6.0}}
    runs.write_config(run, {"pair": "calm2happy", "epoch": 40, "generator": {"filters": 16, "res_blocks": 6},
                            "inference": inference})
    runs.generator_path(run).write_bytes(b"the generator of epoch 40")
    snapshot_dir = run / "snapshots" / "epoch_0012"
    runs.write_config(snapshot_dir, {"pair": "calm2happy", "generator": {"filters": 16, "res_blocks": 6}})
    runs.generator_path(snapshot_dir).write_bytes(b"the generator of epoch 12")
    (snapshot,) = runs.find_snapshots(run)
    installed = runs.install_snapshot(run, snapshot, {"judged_target": 0.5})
    assert installed.read_bytes() == b"the generator of epoch 12"
    config = runs.read_config(run)
    assert config["epoch"] == 12 and config["selected_on"] == {"judged_target": 0.5}
    # chosen later, for the run: not lost (written in full, every default spelt out)
    assert runs.read_settings(run) == ConversionSettings.from_config({"inference": inference},
                                                                     where="here")


# --- The epoch selection's voicing guard ---------------------------------------------------------
def test_choose_epoch_voicing_guard():
    rows = [{"epoch": 10, "judged_target": 0.2, "target_over_source": 0.5, "mcd_to_target": 7.0,
             "voiced_fraction": 0.80},
            {"epoch": 20, "judged_target": 0.6, "target_over_source": 0.9, "mcd_to_target": 7.0,
             "voiced_fraction": 0.40}]
    assert runs.choose_epoch(rows, 7.5)["epoch"] == 20  # no voicing guard: the higher share
    choice = runs.choose_epoch(rows, 7.5, voiced_reference=0.62)
    assert choice["epoch"] == 10 and choice["passing"] == [10]
    assert choice["voiced_limit"] == pytest.approx(0.57)
    assert runs.choose_epoch(rows, 7.5, voiced_reference=0.62, voiced_margin=0.3)["epoch"] == 20
    assert "voiced" in runs.selection_rule_text()


# --- Config fields are checked on load -----------------------------------------------------------
@pytest.mark.parametrize("field, value", [("filters", "eight"), ("filters", -3),
                                          ("filters", 100000), ("res_blocks", 2.5),
                                          ("identity_start", "yes"), ("filters", True)])
def test_a_malformed_config_field_is_one_line(tmp_path, field, value):
    generator = {"filters": 4, "res_blocks": 1, field: value}
    (tmp_path / runs.CONFIG_NAME).write_text(json.dumps({"generator": generator}))
    with pytest.raises(UserError) as caught:
        runs.read_config(tmp_path)
    assert field in str(caught.value) and "\n" not in str(caught.value)


def test_every_shipped_config_reads_into_its_typed_parts_and_back_unchanged():
    from conftest import REPO
    from spectrogan.model.run_config import RunConfig

    folders = sorted(runs.model_folders(REPO / "results").values())
    assert len(folders) == 6
    for folder in folders:
        config = runs.read_config(folder)
        typed = runs.read_run_config(folder)
        assert typed.to_json() == config, folder
        assert typed.provenance["pair"] == folder.name
        assert typed.choices and "vocoder" not in typed.choices  # records, not settings
        assert RunConfig.from_json(typed.to_json(), where=str(folder / "config.json")) == typed
