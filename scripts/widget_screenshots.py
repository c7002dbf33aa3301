"""Screenshots of each widget as rendered by JupyterLab in headless Chromium, for the README.

Runs notebooks 01, 03 and 04 (quick sizes) and saves one PNG per widget to
``assets/screenshots/``. Needs what the browser test needs (Debian chromium, Playwright).

    .venv/bin/python scripts/widget_screenshots.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.jupyter_browser import chromium_page, jupyterlab, run_all  # noqa: E402

SHOTS = {
    "01_quickstart.ipynb": {
        "problem_explorer": ".arithlens-problem-explorer",
        "patching_explorer": ".arithlens-patching-explorer",
    },
    "03_carry_probes.ipynb": {"probe_explorer": ".arithlens-probe-explorer"},
    "04_training_dynamics.ipynb": {"training_monitor": ".arithlens-training-monitor"},
}


def main() -> None:
    out = ROOT / "assets" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    env = {"ARITHLENS_QUICK": "1", "HF_HUB_OFFLINE": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        with jupyterlab(Path(tmp), list(SHOTS), env) as (base, token):
            for notebook, shots in SHOTS.items():
                with chromium_page(width=1300, height=1000) as page:
                    run_all(page, base, token, notebook)
                    for name, selector in shots.items():
                        el = page.locator(selector).first
                        el.scroll_into_view_if_needed()
                        page.wait_for_timeout(1500)  # let plotly finish drawing
                        el.screenshot(path=str(out / f"{name}.png"))
                        print(out / f"{name}.png")


if __name__ == "__main__":
    main()
