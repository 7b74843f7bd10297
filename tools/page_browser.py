"""Drive SpectroGAN's web page (app.py) in a real headless browser: serve it, open it in
Debian's chromium through Selenium, upload a clip, convert, and optionally save a screenshot.

The test of the page (tests/test_app.py) and the README's screenshot use these same steps:

    python tools/page_browser.py --screenshot docs/page.png     # the shipped models, the example

Needs `chromium` and `chromium-driver` (Debian packages) and `pip install selenium`. Exit 0
when the page converted the clip, 1 when it did not, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from spectrogan.core.cli import cli_main  # noqa: E402
from spectrogan.core.errors import UserError  # noqa: E402
from spectrogan.model.runs import RESULTS_DIR  # noqa: E402

BROWSER_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 "--window-size=1400,1100")
EXAMPLE_CLIP = ROOT / "examples" / "calm_speech.wav"


def browser_paths() -> tuple[str | None, str | None]:
    """(chromium, chromedriver) executables, None where missing."""
    return shutil.which("chromium"), shutil.which("chromedriver")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serve_page(models: Path, *, log: Path, timeout: float = 120.0,
               extra: tuple[str, ...] = (), env: dict[str, str] | None = None
               ) -> Iterator[str]:
    """Run `python app.py --models MODELS` on a free port (in environment `env`, default
    this one's); yield its URL once it answers."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    with open(log, "w") as handle:
        server = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port),
                                   "--models", str(models), *extra], cwd=log.parent,
                                  stdout=handle, stderr=subprocess.STDOUT, env=env)
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    urllib.request.urlopen(url, timeout=2)
                    break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"the page did not come up: {log.read_text()[-2000:]}"
                                           ) from None
                    time.sleep(0.5)
            yield url
        finally:
            server.terminate()
            server.wait(timeout=30)


@contextlib.contextmanager
def open_browser() -> Iterator[Any]:
    """A headless chromium driven by Selenium; quit afterwards."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver_path = browser_paths()
    if not (browser and driver_path):
        raise UserError("no headless browser: install Debian's chromium and chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in BROWSER_FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(driver: Any, condition: Any, seconds: float = 120.0) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, seconds).until(condition)


def css(driver: Any, selector: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def page_text(driver: Any) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.TAG_NAME, "body").text


def upload(driver: Any, clip: Path) -> None:
    """Replace the page's clip by `clip` through its upload field."""
    clear = css(driver, "#clip button[aria-label='Clear']")
    if clear:
        clear[0].click()
    wait_for(driver, lambda d: css(d, "#clip input[type=file]"))
    css(driver, "#clip input[type=file]")[0].send_keys(str(Path(clip).resolve()))
    wait_for(driver, lambda d: css(d, "#clip audio"))


def convert(driver: Any) -> bytes:
    """Press Convert and wait for the result; returns the wav its download link serves."""
    for old in css(driver, "#result a[href$='.wav']"):
        driver.execute_script("arguments[0].removeAttribute('href')", old)
    css(driver, "#convert")[0].click()
    wait_for(driver, lambda d: css(d, "#result a[href$='.wav']"))
    source = css(driver, "#result a[href$='.wav']")[0].get_attribute("href")
    with urllib.request.urlopen(source, timeout=30) as response:
        return response.read()


def save_full_page(driver: Any, path: Path) -> Path:
    """A PNG of the whole page, down to its last element (the spectrograms below the
    controls), not only the window's height: the window is made as tall as the page first."""
    width = driver.execute_script("return document.documentElement.scrollWidth")
    height = driver.execute_script(
        "return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight)")
    driver.set_window_size(max(int(width), 1400), int(height) + 120)
    time.sleep(0.5)  # let the page lay itself out at the new size
    path.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(path))
    return path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], epilog="\n\n".join(__doc__.split("\n\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=Path, default=RESULTS_DIR,
                        help="models folder to serve (default: the shipped models)")
    parser.add_argument("--clip", type=Path, default=EXAMPLE_CLIP,
                        help="clip to upload (default: the example)")
    parser.add_argument("--screenshot", type=Path, default=None,
                        help="save a PNG of the page after the conversion")
    return parser


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.clip.is_file():
        raise UserError(f"{args.clip}: no such file")
    with tempfile.TemporaryDirectory() as work, \
            serve_page(args.models, log=Path(work) / "app.log") as url, \
            open_browser() as driver:
        driver.get(url)
        wait_for(driver, lambda d: css(d, "#convert"))
        upload(driver, args.clip)
        wav = convert(driver)
        wait_for(driver, lambda d: css(d, "#spectrograms img"))
        time.sleep(1.0)  # let the players draw their waveforms
        if args.screenshot is not None:
            save_full_page(driver, args.screenshot)
            print(f"wrote {args.screenshot}")
    ok = wav[:4] == b"RIFF"
    print(f"converted {args.clip.name} in the page: {len(wav)} bytes of wav" if ok
          else "the page gave no wav")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
