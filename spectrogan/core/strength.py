"""How much of a learned change a conversion applies: its strength.

Strength runs from 0 (none of the change: the vocoder alone) to 1 (all of it); every change
is scaled by one of two rules, so that 0 is exactly the identity and 1 exactly the change:
a shift (semitones, dB, a cepstral offset) is multiplied by the strength (`scale_shift`), a
ratio (pitch range, speaking rate, cepstral spread) is raised to it (`scale_ratio`). The
generator's image change has its own exact rule beside the image transforms
(spectro.scale_change). The range is checked here, once.
"""

from __future__ import annotations

from typing import Sequence

FULL_STRENGTH = 1.0


def check_strength(strength: float) -> float:
    """`strength` as a float in [0, 1]; ValueError with the value otherwise (NaN included)."""
    strength = float(strength)
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must be in [0, 1], got {strength}")
    return strength


def scale_shift(shift: float, strength: float) -> float:
    """An additive change applied `strength` of the way: shift x strength."""
    return float(shift) * check_strength(strength)


def scale_ratio(ratio: float, strength: float) -> float:
    """A multiplicative change applied `strength` of the way: ratio ** strength."""
    return float(ratio) ** check_strength(strength)


def scale_shifts(shifts: Sequence[float], strength: float) -> tuple[float, ...]:
    """`scale_shift` of each of `shifts`."""
    return tuple(scale_shift(shift, strength) for shift in shifts)


def scale_ratios(ratios: Sequence[float], strength: float) -> tuple[float, ...]:
    """`scale_ratio` of each of `ratios`."""
    return tuple(scale_ratio(ratio, strength) for ratio in ratios)
