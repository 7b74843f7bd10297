"""Silencing what native libraries print straight to the terminal.

TensorFlow's C++ start-up lines and mpg123's "Illegal Audio-MPEG-Header" notes (libsndfile
probing a file that is not audio) go to file descriptor 2 from C, past Python's sys.stderr: a
script that reports such a problem in one line of its own silences them while the call runs.
Standard library only.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Iterator


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Point file descriptor 2 at the null device while the block runs, then restore it;
    Python exceptions (and what Python itself writes after the block) are untouched."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
