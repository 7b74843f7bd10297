"""Sound and its representations: the spectrogram transform, audio files, loudness, pitch,
the WORLD vocoder and frame-level prosody."""
