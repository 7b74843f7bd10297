"""Try SpectroGAN in your browser: record or upload speech, choose the emotion and its
strength, listen and download.

    python app.py                          # then open http://127.0.0.1:7860
    python app.py --port 8000 --models runs/
    python app.py --host 0.0.0.0           # let other machines on your network use it

The page lists the models found in --models (the shipped ones by default) with their test
figures, converts with the same code as convert.py (`--strength` there is the page's slider),
and shows the input and converted spectrograms side by side. It is local and private by
default: bound to 127.0.0.1, no public share link, Gradio's usage analytics off, nothing
leaves the machine. The page is up before the models load (they load in the background,
each once); conversions are queued, so two visitors each get their own result. Uploads and
results live in a folder of the page's own, readable by this user only; Ctrl-C (exit status
130; 143 when terminated) stops the page and removes that folder.
"""

from __future__ import annotations

import argparse
import errno
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
from pathlib import Path

from spectrogan.core.cli import cli_main
from spectrogan.core.errors import UserError
from spectrogan.model.runs import RESULTS_DIR, shown_path

DEFAULT_PORT = 7860  # Gradio's convention


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="app.py", description=__doc__.split("\n\n")[0],
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"port to serve on (default: {DEFAULT_PORT})")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind: 127.0.0.1 serves this machine only; 0.0.0.0 "
                             "every network it is on (default: 127.0.0.1)")
    parser.add_argument("--models", type=Path, default=RESULTS_DIR, metavar="DIR",
                        help="folder holding the model folders, as convert.py --models "
                             "(default: results/ beside this script)")
    parser.add_argument("--no-warm-up", action="store_true",
                        help="load each model on its first conversion instead of in the "
                             "background at start (default: load them all at start)")
    return parser


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not 1 <= args.port <= 65535:
        raise UserError(f"--port must be from 1 to 65535, got {args.port}")
    if not args.models.is_dir():
        raise UserError(f"--models {args.models}: no such folder; pass the folder that holds "
                        "the model folders (calm2anger/, ...)")
    check_port_free(args.host, args.port)
    # Private (mkdtemp: owner only), and Gradio's copies of uploads and results go inside it
    # rather than into its shared temporary folder, so stopping the page removes them all.
    work_dir = Path(tempfile.mkdtemp(prefix="spectrogan_page_"))
    os.environ["GRADIO_TEMP_DIR"] = str(work_dir / "served")
    try:
        return _serve(args, work_dir)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


def check_port_free(host: str, port: int) -> None:
    """UserError in one line when `port` on `host` is taken or cannot be bound here."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise UserError(f"port {port} on {host} is in use (another page or program); "
                                f"pass another --port, e.g. --port {port + 1}") from None
            raise UserError(f"cannot serve on {host}:{port} ({exc.strerror or exc}); pass "
                            "another --host or --port") from None


def _serve(args: argparse.Namespace, work_dir: Path) -> int:
    """Run the page until a signal stops it, its files in `work_dir`; exits the process."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    try:
        import gradio  # noqa: F401 - the page's server; checked here for a one-line error
    except ImportError:
        raise UserError("gradio is not installed; run `pip install -r requirements.txt`") from None
    from spectrogan.webpage import EXAMPLE_CLIP, PageConverter, build_page

    converter = PageConverter(args.models, work_dir=work_dir / "results")
    if not converter.models:
        print(f"note: no trained model in {shown_path(args.models)}; the page will say so",
              file=sys.stderr)
    page = build_page(converter)
    try:
        page.queue().launch(server_name=args.host, server_port=args.port, share=False,
                            inbrowser=False, quiet=True, prevent_thread_lock=True,
                            allowed_paths=[str(EXAMPLE_CLIP.parent)])
    except OSError:  # taken between the check and the launch
        raise UserError(f"port {args.port} on {args.host} is in use; pass another --port"
                        ) from None
    stop = _stop_on_signals()
    # Only now: importing Keras in the warm-up thread would hold the interpreter while the
    # server starts, and the page would answer later.
    if not args.no_warm_up:
        converter.warm_up()
    print(f"SpectroGAN page: http://{args.host}:{args.port} ({len(converter.models)} model(s) "
          f"from {shown_path(args.models)}); Ctrl-C stops it", flush=True)
    while not stop.wait(0.5):  # the signal handler runs between waits
        pass
    print("stopping the page", file=sys.stderr, flush=True)
    page.close()
    converter.close()
    shutil.rmtree(work_dir, ignore_errors=True)
    # A model load or conversion may be running in TensorFlow's native threads, which cannot
    # be stopped: the usual interpreter shutdown would wait for them or abort ("terminate
    # called without an active exception"). Every output was written atomically and the
    # page's files are removed, so leave at once with the signal's exit status.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(stop.exit_code)


class _Stop(threading.Event):
    """Set by SIGINT (Ctrl-C, exit 130) or SIGTERM (exit 143)."""

    exit_code = 130


def _stop_on_signals() -> _Stop:
    stop = _Stop()

    def handle(signum: int, _frame: object) -> None:
        stop.exit_code = 128 + signum
        stop.set()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
    return stop


if __name__ == "__main__":
    sys.exit(main())
