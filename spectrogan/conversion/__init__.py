"""Converting whole clips with a trained model."""
