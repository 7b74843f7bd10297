"""Writing files so that they appear whole or not at all.

Every output of SpectroGAN (audio, images, npz data sets, weights, configs, reports, run
folders) is written under a temporary name beside its final one and renamed into place, so a
crash, a kill or a full disk never leaves a half-written file where a good one was. Standard
library only.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Iterator


def _usual_permissions(path: Path, mode: int) -> None:
    """mkstemp/mkdtemp make owner-only entries; give outputs the permissions the umask allows."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, mode & ~umask)


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds.

    A crash or an exception inside the block leaves `path` untouched and no half-written file.
    The temporary name keeps `path`'s suffix so libraries that pick a format by it still work.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffixes = "".join(path.suffixes[-2:])  # keep e.g. ".weights.h5": Keras checks it
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name[:len(path.name) - len(suffixes)]}.tmp-",
                                    suffix=suffixes, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    _usual_permissions(tmp, 0o666)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


DISK_FULL_BYTES = 1 << 20  # a file system with less room than this left is full


def write_failure(path: str | os.PathLike, exc: BaseException) -> OSError:
    """The OSError to raise for a failed write of `path`: 'disk full' when its file system has
    (almost) no room left -- libsndfile reports that only as 'System error.' -- else the
    original reason, so a script says it in one plain line (cli.cli_main, exit 1)."""
    path = Path(path)
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        full = shutil.disk_usage(folder).free < DISK_FULL_BYTES
    except OSError:
        full = False
    if full or getattr(exc, "errno", None) == errno.ENOSPC:
        return OSError(errno.ENOSPC, f"disk full ({folder}); free some space and run again",
                       str(path))
    if isinstance(exc, OSError) and exc.strerror:
        return OSError(exc.errno, f"cannot write there ({exc.strerror.lower()})", str(path))
    return OSError(errno.EIO, f"cannot write there ({str(exc).strip() or type(exc).__name__})",
                   str(path))


def atomic_folder(folder: str | os.PathLike, fill: Callable[[Path], None]) -> Path:
    """Let `fill` write into a temporary folder beside `folder`, then rename it to `folder`,
    so the folder appears whole or not at all. A folder already there is replaced (a run
    re-writes an epoch's folder when that epoch is re-run after a kill). Returns `folder`."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
    try:
        _usual_permissions(tmp, 0o777)
        fill(tmp)
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return folder
