"""Downloading SpectroGAN's inputs: RAVDESS from Zenodo and the original project's npz files from
Google Drive, each checked (md5, sha256, size, that it loads) before it gets its final name.

data_prep.py's `--download ravdess` and `--download seed` call these; nothing else in the
project touches the network, and nothing does at run time. The two network calls
(`_download_url`, `_gdrive_download`) are single functions so that tests replace them. A failed
download is one UserError line saying how to work offline (--ravdess DIR).

RAVDESS: Livingstone & Russo (2018), https://zenodo.org/record/1188976, CC BY-NC-SA 4.0.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import sys
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from spectrogan.core.atomic_files import atomic_output
from spectrogan.data.corpus import DATA_DIR, parse_pair
from spectrogan.core.errors import UserError


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.new(algorithm, usedforsecurity=algorithm != "md5")
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- The original's npz files (--download seed) ----------------------------------------------
@dataclass(frozen=True)
class SeedFile:
    """One of the original project's npz files on Google Drive; size/sha256 None = unknown."""

    drive_id: str
    size: int | None = None
    sha256: str | None = None


# Drive ids from the original README (../shared/seed/SEED.md). Sizes and checksums were never
# published; fill them in once a download has been checked by hand.
SEED_FILES = {
    "calm2anger": SeedFile("14q4aZseMCQO_xbbmX-JRsbRSlGX9bB3E"),
    "calm2fearful": SeedFile("14scuVs2nlNH29DIWecrNrCcwNAVR0orG"),
    "calm2happy": SeedFile("153PIrQEk_agKiUOP5cujrVyGjnxDqKhd"),
    "calm2sad": SeedFile("15HlO9YvZjMtbcEiXajfE9uqmrVS0Unep"),
    "calm2disgust": SeedFile("14s7kWrDQP61X9QXYDV-W3W4YIukJs_55"),
    "calm2surprised": SeedFile("15HlogMsEX9juzL1j7HqweDQv9F5tJFuG"),
    "fearful2surprised": SeedFile("167zknyKgV5r8qO_fLbbFLT1A76WwTWiL"),
}


def _gdrive_download(file_id: str, output: Path) -> None:
    """Fetch one Google Drive file to `output` with gdown (the one network call; tests patch it).

    Raises UserError (one line, saying what to do offline) when the download fails.
    """
    import gdown

    try:
        result = gdown.download(id=file_id, output=str(output), quiet=False)
    except Exception as exc:  # requests/gdown raise many types; all mean "no file"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        result, failure = None, reason
    else:
        failure = "gdown returned no file"
    if result is None or not output.is_file() or output.stat().st_size == 0:
        for part in output.parent.glob(f"{output.name}*.part"):  # gdown's partial download
            part.unlink()
        raise UserError(f"could not download Google Drive file {file_id} ({failure}); without "
                        "network, build the data from a local RAVDESS copy with --ravdess DIR")


def _verify_seed_file(path: Path, expected: SeedFile) -> None:
    """Check size and sha256 (when known) and that `path` is a loadable npz with arr_0/arr_1."""
    if expected.size is not None and path.stat().st_size != expected.size:
        raise UserError(f"{path}: size {path.stat().st_size} bytes, expected {expected.size} "
                        "(damaged download)")
    if expected.sha256 is not None and file_digest(path) != expected.sha256:
        raise UserError(f"{path}: sha256 does not match the known one (damaged download, or "
                        "the file changed on the drive)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            names = set(npz.files)
    except Exception as exc:
        raise UserError(f"{path}: not a loadable npz ({exc})") from None
    if not {"arr_0", "arr_1"} <= names:
        raise UserError(f"{path}: has no arr_0/arr_1 arrays (has {', '.join(sorted(names))}); "
                        "not one of the original's data sets")


def fetch_seed(pair: str, *, out_dir: str | os.PathLike = DATA_DIR) -> Path:
    """The original's npz for `pair` at OUT/seed/<pair>.original.npz, downloaded if missing.

    A file already there is reused when it passes the checks (and fetched again when it does
    not); downloads are checked before they get their final name, so a damaged one never does.
    """
    name = parse_pair(pair)[0]
    if name not in SEED_FILES:
        raise UserError(f"the original project published no data for {name}; it has "
                        f"{', '.join(SEED_FILES)}. Build {name} from RAVDESS with --ravdess DIR")
    path = Path(out_dir) / "seed" / f"{name}.original.npz"
    if path.is_file():
        try:
            _verify_seed_file(path, SEED_FILES[name])
            return path
        except UserError as exc:
            print(f"note: {exc}; downloading it again", file=sys.stderr)
    with atomic_output(path) as tmp:
        _gdrive_download(SEED_FILES[name].drive_id, tmp)
        _verify_seed_file(tmp, SEED_FILES[name])
    return path


# --- RAVDESS from Zenodo (--download ravdess) ------------------------------------------------
RAVDESS_URL = "https://zenodo.org/record/1188976/files/Audio_Speech_Actors_01-24.zip"
RAVDESS_ZIP_NAME = "Audio_Speech_Actors_01-24.zip"
RAVDESS_ZIP_MD5 = "bc696df654c87fed845eb13823edef8a"  # published on the Zenodo record
DOWNLOAD_TIMEOUT_S = 60.0  # seconds without data before giving up


def _download_url(url: str, output: Path, *, timeout: float = DOWNLOAD_TIMEOUT_S) -> None:
    """Stream `url` into `output` with a progress bar (the one network call; tests patch it).

    Raises UserError (one line, saying what to do offline) on any network failure.
    """
    from tqdm import tqdm

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, \
                open(output, "wb") as handle:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc="download", disable=None,
                      file=sys.stderr) as bar:
                for block in iter(lambda: response.read(1 << 20), b""):
                    handle.write(block)
                    bar.update(len(block))
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise UserError(f"could not download {url} ({reason}); without network, get "
                        f"{RAVDESS_ZIP_NAME} elsewhere, unzip it and pass the folder with "
                        "--ravdess DIR") from None


def safe_extract(zip_path: str | os.PathLike, target_dir: str | os.PathLike) -> int:
    """Extract a zip into `target_dir`, refusing the whole archive if any member would land
    outside it (absolute paths, drive letters, '..' parts, symbolic links).

    Each file is written atomically; files already there with the same size are kept, so an
    interrupted extraction resumes. Returns the number of files written.
    """
    target = Path(target_dir)
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UserError(f"{zip_path}: not a readable zip ({exc}); delete it and run again") \
            from None
    with archive:
        members = archive.infolist()
        for member in members:  # check everything before writing anything
            name = member.filename.replace("\\", "/")
            parts = PurePosixPath(name).parts
            is_link = stat.S_ISLNK(member.external_attr >> 16)
            if (name.startswith("/") or re.match(r"^[A-Za-z]:", name) or ".." in parts
                    or is_link):
                raise UserError(f"{zip_path}: refusing to extract member {member.filename!r} "
                                "(it would land outside the target folder); the archive is "
                                "not the official RAVDESS zip")
        root = target.resolve()
        written = 0
        for member in members:
            dest = target / member.filename.replace("\\", "/")
            if not dest.resolve().is_relative_to(root):  # belt and braces (e.g. odd links)
                raise UserError(f"{zip_path}: member {member.filename!r} escapes {target}")
            if member.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
                continue
            if dest.is_file() and dest.stat().st_size == member.file_size:
                continue
            with atomic_output(dest) as tmp, archive.open(member) as src, open(tmp, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
            written += 1
    return written


def download_ravdess(target_dir: str | os.PathLike, *, zip_dir: str | os.PathLike) -> Path:
    """Fetch RAVDESS speech (Zenodo 1188976) into `zip_dir`, check its md5, extract it into
    `target_dir` (see safe_extract) and return `target_dir`.

    A zip already in `zip_dir` with the right md5 is reused; a download with the wrong md5 is
    deleted and never gets its final name.
    """
    zip_path = Path(zip_dir) / RAVDESS_ZIP_NAME
    if not (zip_path.is_file() and file_digest(zip_path, "md5") == RAVDESS_ZIP_MD5):
        with atomic_output(zip_path) as tmp:
            _download_url(RAVDESS_URL, tmp)
            if file_digest(tmp, "md5") != RAVDESS_ZIP_MD5:
                raise UserError(f"{RAVDESS_URL}: the download's md5 does not match "
                                f"{RAVDESS_ZIP_MD5} (damaged or changed); run again")
    count = safe_extract(zip_path, target_dir)
    print(f"RAVDESS: {zip_path} (md5 ok) -> {target_dir} ({count} file(s) written)")
    return Path(target_dir)
