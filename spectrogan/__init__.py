"""SpectroGAN's library: everything but the command-line scripts at the top of the checkout.

Parts, each importing only those listed before it (docs/architecture.md):
core (errors, atomic writes, processes, command-line helpers, paths, strength), audio (the
spectrogram transform, audio files, loudness, pitch, the WORLD vocoder), data (the corpora and
the one speaker split), stages (the learned changes a conversion applies), model (networks,
run folders), conversion (converting whole clips), training, evaluation, and webpage (the
page app.py serves). Nothing here parses command-line arguments.
"""
