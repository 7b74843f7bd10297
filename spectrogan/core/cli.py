"""Command-line plumbing shared by every SpectroGAN script: one place for how a script fails,
writes files and imports Keras.

- `UserError`: a mistake in what the user gave; scripts print it as one `error:` line.
- `cli_main`: wraps a `main(argv)` so the exit codes follow one rule (0 done, 2 usage error,
  1 failure of the run itself, 130 Ctrl-C) and a user mistake never shows a traceback.
- `atomic_output`: every output is written to a temporary file and renamed into place.
- `check_output_path`: refuses to overwrite an input, or an existing file without --force.
- `import_keras`: the quiet Keras import, with one TensorFlow log level for every script.
- argparse types (`arg_type`, `positive_int`, `non_negative_int`).

Standard library only, so importing it costs nothing and `--help` stays instant.
"""

from __future__ import annotations

import argparse
import errno
import functools
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any, Callable, TypeVar

from spectrogan.core.errors import UserError
from spectrogan.core.quiet import native_stderr_silenced

# TensorFlow's C++ log level while Keras is imported: "3" hides its start-up lines (oneDNN,
# CUDA probes) that would bury a script's own output; a user's own setting wins.
TF_LOG_LEVEL = "3"

T = TypeVar("T")


def cli_main(main: Callable[[list[str] | None], int]) -> Callable[[list[str] | None], int]:
    """Decorate a `main(argv)` so user mistakes end as one `error:` line and exit code 2.

    The rule for every script: 2 for a usage error (a bad flag or value, a missing or
    unusable input file, a missing model), 1 for a failure of the run itself (the file
    system refusing a write, a full disk), 130 for Ctrl-C.

    UserError (and its subclasses) become `error: <message>` on stderr with return code 2; an
    OSError from the file system (disk full, no permission) becomes one such line with return
    code 1; Ctrl-C becomes return code 130, silently (a Ctrl-C that comes after a command's
    work is done is ignored: its status is the work's). Anything else is a bug and keeps its
    traceback.
    """
    @functools.wraps(main)
    def wrapper(argv: list[str] | None = None) -> int:
        try:
            code = main(argv)
            if argv is None:  # run as a command, not called: the work is done, so a Ctrl-C
                # now (while the interpreter exits) must not turn a finished run into a
                # death by signal
                signal.signal(signal.SIGINT, signal.SIG_IGN)
            return code
        except UserError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except OSError as exc:  # disk full, permission denied, vanished folder: not a bug
            where = f"{exc.filename}: " if exc.filename else ""
            print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:  # the terminal already shows ^C: nothing more to say
            return 130
    return wrapper


def check_output_path(output: Path, *, inputs: list[Path], force: bool) -> None:
    """Refuse to write over an input, or over an existing file without `force` (UserError)."""
    resolved = output.resolve()
    if any(resolved == p.resolve() for p in inputs):
        raise UserError(f"{output}: refusing to overwrite the input file; choose another output")
    if output.exists() and not force:
        raise UserError(f"{output}: already exists; pass --force to overwrite it")
    if output.exists() and output.is_dir():
        raise UserError(f"{output}: is a folder; give a file name for the output")
    check_writable_folder(output.parent if str(output.parent) else Path("."), name=str(output))


def check_writable_folder(folder: Path, *, name: str) -> None:
    """Make sure a file can be written into `folder` (created if missing) before slow work.

    The nearest existing folder up the path must be a folder a file can be created in, which
    is tried (a probe file, removed at once) because permissions alone do not tell (a
    read-only mount, /proc). UserError when a file stands where a folder must be; an OSError
    naming `name` (the output as the user gave it) when the file system refuses: a failure,
    exit 1, as when the write itself is refused (see cli_main).
    """
    import tempfile

    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(f"{name}: {existing} is a file, not a folder")
    try:
        handle, probe = tempfile.mkstemp(prefix=".spectrogan-write-check-", dir=existing)
    except OSError as exc:
        # /proc and its kind answer "no such file" for a folder that plainly exists.
        reason = ("it accepts no new files" if exc.errno == errno.ENOENT else
                  (exc.strerror or type(exc).__name__).lower())
        raise OSError(exc.errno or errno.EACCES,
                      f"cannot write there ({existing}: {reason})", name) from None
    os.close(handle)
    os.remove(probe)


def import_keras() -> Any:
    """Import and return keras without TensorFlow's native start-up chatter on the terminal.

    TensorFlow prints oneDNN / CUDA-probe lines from C++ before its log level applies, so
    file descriptor 2 is silenced during the import -- only while TF_CPP_MIN_LOG_LEVEL is
    TF_LOG_LEVEL, which is set as a default here; users who set a lower level see everything.
    Python exceptions still propagate.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", TF_LOG_LEVEL)
    if "keras" in sys.modules:
        import keras
        return keras
    # TensorFlow imports JAX for its TFLite converter when JAX is installed: half a second
    # for nothing on a TensorFlow run, and a Ctrl-C that lands in JAX's garbage-collection
    # callback during that import is swallowed ("Exception ignored"), so the run went on.
    hidden = _JaxHidden() if keras_backend() == "tensorflow" else None
    if hidden is not None:
        sys.meta_path.insert(0, hidden)
    try:
        if os.environ["TF_CPP_MIN_LOG_LEVEL"] != TF_LOG_LEVEL:
            import keras
        else:
            with native_stderr_silenced():
                import keras
    finally:
        if hidden is not None:
            sys.meta_path.remove(hidden)
    # TensorFlow's Python-side warnings (tf.function retracing notes when several models
    # are loaded in one process) follow the same quiet level.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    return keras


def keras_backend() -> str:
    """The backend Keras will load: KERAS_BACKEND, else keras.json's, else tensorflow."""
    import json

    chosen = os.environ.get("KERAS_BACKEND")
    if chosen:
        return chosen
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    try:
        with open(os.path.join(home, "keras.json")) as handle:
            return str(json.load(handle).get("backend") or "tensorflow")
    except (OSError, ValueError, AttributeError):
        return "tensorflow"


class _JaxHidden:
    """A meta-path finder under which `import jax` fails as if JAX were not installed (the
    libraries that try it fall back), while Keras loads the TensorFlow backend."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name.split(".", 1)[0] in ("jax", "jaxlib"):
            raise ImportError(f"{name} is not needed by the TensorFlow backend")
        return None


# --- argparse types -------------------------------------------------------------------------
def parser_from_doc(doc: str) -> argparse.ArgumentParser:
    """An argument parser whose description is `doc`'s first paragraph and whose epilog is
    the rest, kept as written (a script's module docstring: what it does, then examples)."""
    paragraphs = (doc or "").split("\n\n")
    return argparse.ArgumentParser(description=paragraphs[0],
                                   epilog="\n\n".join(paragraphs[1:]),
                                   formatter_class=argparse.RawDescriptionHelpFormatter)


def arg_type(parse: Callable[[str], T]) -> Callable[[str], T]:
    """An argparse `type=` from a parser that raises UserError: argparse then reports the
    message as a usage error (exit 2) naming the flag."""
    @functools.wraps(parse)
    def convert(text: str) -> T:
        try:
            return parse(text)
        except UserError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return convert


def _whole_number(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, got {text!r}")
    return value


def number_in(low: float, high: float, *, kind: Callable[[str], float] = float,
              what: str = "value") -> Callable[[str], float]:
    """argparse type: a number (`kind`: float or int) from `low` to `high`, inclusive."""
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {what} from {low:g} to {high:g}, got "
                                             f"{text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{what} must be from {low:g} to {high:g}, got "
                                             f"{value:g}")
        return value
    return parse


def positive_int(text: str) -> int:
    """argparse type: a whole number >= 1."""
    return _whole_number(text, 1)


def non_negative_int(text: str) -> int:
    """argparse type: a whole number >= 0."""
    return _whole_number(text, 0)
