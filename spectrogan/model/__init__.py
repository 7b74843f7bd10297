"""The networks, their NumPy forward pass, training settings, and the run folder a model lives
in."""
