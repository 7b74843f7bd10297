"""The learned changes a conversion applies (prosody, spectral balance, cepstral change) and
the settings that read them from a model's config.json."""
