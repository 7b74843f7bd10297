"""The card's networks: the ResNet-block generator and the PatchGAN discriminator (Keras 3).

Builders are functions that take shapes and return a `keras.Model`; they are defined once, in
spectrogan/model/models.py (their layers, sizes and the envelope cut are documented there);
this module is their name at the top of the checkout:

    from models import build_generator, build_discriminator
    generator = build_generator(input_shape=(260, 260, 1))
"""

from __future__ import annotations

from spectrogan.model.models import (
    EnvelopeProjection, IdentityLogits, ReflectionPadding2D, build_discriminator,
    build_generator, with_envelope_cut)

__all__ = [  # the card's names
    "EnvelopeProjection", "IdentityLogits", "ReflectionPadding2D", "build_discriminator",
    "build_generator", "with_envelope_cut"]
