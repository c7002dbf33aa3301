"""Drive JupyterLab in headless Chromium: start a server on localhost over a copy of some
notebooks, open one, run all cells, wait for them to finish.

Uses Debian's ``chromium`` (``/usr/bin/chromium``, override with ``ARITHLENS_CHROMIUM``) through
Playwright for Python; Playwright never downloads a browser here.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = os.environ.get("ARITHLENS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the notebook tab in front
NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def browser_missing() -> str | None:
    """Why the browser test cannot run here, or None."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (apt-get install -y chromium)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]')"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def jupyterlab(folder: Path, notebooks: list[str], env: dict[str, str] | None = None):
    """A JupyterLab server on localhost serving copies of ``notebooks`` in ``folder``; yields
    ``(base_url, token)``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in notebooks:
        shutil.copy(NOTEBOOKS / name, folder / name)
    port, token = _free_port(), secrets.token_hex(16)
    log = open(folder / "jupyterlab.log", "w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            f"--port={port}",
            "--ip=127.0.0.1",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={folder}",
            "--ServerApp.allow_root=True",
            "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        cwd=folder,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError(
                        f"JupyterLab did not start: {(folder / 'jupyterlab.log').read_text()[-2000:]}"
                    ) from None
                time.sleep(0.5)
        yield base, token
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@contextmanager
def chromium_page(width: int = 1400, height: int = 1000):
    """A Playwright page in the system chromium (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            yield page
        finally:
            browser.close()


def run_all(page, base: str, token: str, notebook: str, timeout_s: float = 300) -> None:
    """Open ``notebook`` in JupyterLab, run all cells, and wait until every code cell ran (or
    one failed: Run All stops there; :func:`error_outputs` then names it)."""
    page.goto(f"{base}/lab/tree/{notebook}?reset&token={token}")  # reset: no restored tabs
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=120_000)
    # the kernel must be connected and idle, or Run All is silently dropped: retry until a
    # first cell starts
    page.wait_for_selector(".jp-StatusBar-TextItem >> text=/Idle/", timeout=120_000)
    for _ in range(10):
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        try:
            page.wait_for_function(
                "(panel) => [...document.querySelectorAll(panel + ' .jp-CodeCell .jp-InputArea-prompt')]"
                ".some(p => /\\[(\\*|\\d+)\\]/.test(p.textContent))",
                arg=PANEL,
                timeout=10_000,
            )
            break
        except Exception:
            page.keyboard.press("Escape")
    n_code = page.locator(f"{PANEL} .jp-CodeCell").count()
    page.wait_for_function(
        """([n, panel]) => {
            const prompts = [...document.querySelectorAll(panel + ' .jp-CodeCell .jp-InputArea-prompt')];
            const done = prompts.filter(p => /\\[\\d+\\]/.test(p.textContent));
            const idle = document.querySelector('.jp-Notebook-ExecutionIndicator')
                ?.getAttribute('data-status') === 'idle';
            const failed = [...document.querySelectorAll(panel + ' .jp-OutputArea-output')]
                .some(o => o.textContent.includes('Traceback'));
            return idle && (failed || (prompts.length === n && done.length === n));
        }""",
        arg=[n_code, PANEL],
        timeout=timeout_s * 1000,
    )
    dismiss_news(page)


def dismiss_news(page) -> None:
    """Answer JupyterLab's "get notified about news?" toast with No (it covers the page)."""
    no = page.locator(".jp-toast-button", has_text="No")
    if no.count():
        no.first.click()


def error_outputs(page) -> list[str]:
    """Texts of outputs that show a Python error (a traceback)."""
    texts = page.locator(f"{PANEL} .jp-OutputArea-output").all_inner_texts()
    return [t for t in texts if "Traceback" in t or "Error" in t.split("\n", 1)[0]]
