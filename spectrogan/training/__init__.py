"""Fitting a CycleGAN: its data streams and the training loop's run folder."""
