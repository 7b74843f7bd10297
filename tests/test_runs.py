"""runs.py: the run folder's config and the snapshot a selection installs (no Keras)."""

from __future__ import annotations

import runs


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
    assert config["inference"] == inference  # chosen later, for the run: not lost
