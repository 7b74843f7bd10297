"""The corpora (RAVDESS, CREMA-D), their files, the one speaker split and the training data
format."""
