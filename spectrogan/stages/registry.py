"""Every kind of stage a conversion may apply, in the order it applies them (stages/stage.py).

A new change is one module holding its Stage subclass and one line here.
"""

from __future__ import annotations

from spectrogan.stages.cepstral_change import CepstralChange
from spectrogan.stages.contour_prosody import ContourProsody
from spectrogan.stages.envelope_model import EnvelopeModel
from spectrogan.stages.pitch_shift import PitchShift
from spectrogan.stages.prosody import ProsodyChange
from spectrogan.stages.spectral_balance import SpectralBalance
from spectrogan.stages.stage import Stage

STAGE_KINDS: tuple[type[Stage], ...] = (
    EnvelopeModel,  # the generator's change of the spectrogram or of WORLD's envelope
    CepstralChange,  # the spectrum's mean and movement over time
    SpectralBalance,  # the long-term spectral tilt
    ProsodyChange,  # pitch level, range and speaking rate
    ContourProsody,  # the pitch contour and timing along the sentence, from the contour model
    PitchShift,  # Griffin-Lim's pitch shift, after synthesis
)
