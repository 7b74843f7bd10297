"""batches.py: the training streams, the random time crops of the fast preset."""

from __future__ import annotations

import numpy as np

from spectrogan.training import batches
from spectrogan.audio.spectro import PAD_VALUE


# --- Random crops --------------------------------------------------------------------------------
def test_content_frames_finds_the_end_of_the_sound():
    images = np.full((3, 8, 20), PAD_VALUE, np.float16)
    images[0, 2, :13] = 0.0
    images[1, :, 19] = 0.5
    assert batches.content_frames(images).tolist() == [13, 20, 0]


def test_crops_have_the_asked_width_lie_in_the_sound_and_change_every_step():
    rng = np.random.default_rng(5)
    lengths = [60, 16, 10]
    images = np.full((3, 12, 64), PAD_VALUE, np.float16)
    for index, length in enumerate(lengths):
        images[index, :, :length] = rng.uniform(-0.9, 0.9, (12, length))
    stream = batches.UnpairedBatches(images, images[::-1].copy(), batch_size=2, steps_per_epoch=3,
                                seed=0, crop_frames=16)
    starts = {index: set() for index in range(3)}
    for step in range(30):
        batch_A, batch_B = stream[step]
        assert batch_A.shape == batch_B.shape == (2, 12, 16, 1)
        assert batch_A.dtype == np.float32
        np.testing.assert_array_equal(stream[step][0], batch_A)  # a pure function of the index
        for crop in batch_A[..., 0]:
            found = [(index, start) for index in range(3) for start in range(64 - 16 + 1)
                     if np.array_equal(images[index, :, start:start + 16].astype(np.float32),
                                       crop)]
            assert found, "a crop must be a slice of a training image"
            index, start = found[0]
            assert start <= max(lengths[index] - 16, 0)  # inside the sound when it fits
            starts[index].add(start)
    assert len(starts[0]) > 5 and starts[1] == {0} and starts[2] == {0}
