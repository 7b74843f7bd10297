"""Strength: one range check and two exact scaling rules."""

from __future__ import annotations

import math

import pytest

from spectrogan.core import strength
from spectrogan.stages.cepstral_change import ORDER, CepstralChange
from spectrogan.stages.prosody import ProsodyChange
from spectrogan.stages.spectral_balance import SpectralBalance


@pytest.mark.parametrize("bad", [-0.1, 1.01, math.nan, math.inf])
def test_a_strength_outside_0_to_1_is_refused_with_its_value(bad):
    with pytest.raises(ValueError, match="strength must be in \\[0, 1\\]"):
        strength.check_strength(bad)


def test_shifts_scale_linearly_and_ratios_geometrically_from_none_to_all():
    assert strength.scale_shift(6.0, 0.0) == 0.0 and strength.scale_shift(6.0, 0.5) == 3.0
    assert strength.scale_ratio(1.44, 0.0) == 1.0 and strength.scale_ratio(1.44, 0.5) == 1.2
    assert strength.scale_shifts((2.0, -4.0), 1.0) == (2.0, -4.0)
    assert strength.scale_ratios((4.0, 0.25), 0.5) == (2.0, 0.5)


def test_every_learned_change_is_the_identity_at_zero_and_itself_at_full_strength():
    changes = (ProsodyChange(3.0, 1.5, 0.8), SpectralBalance(tuple([2.0, -1.0] * 10)),
               CepstralChange((0.0,) + (0.1,) * ORDER, (1.0,) + (1.2,) * ORDER))
    for change in changes:
        assert change.scaled(0.0).is_identity
        assert change.scaled(strength.FULL_STRENGTH) == change
        with pytest.raises(ValueError, match="strength"):
            change.scaled(1.5)
