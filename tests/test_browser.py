"""In a real browser: headless Chromium opens the dashboard of a `ledger serve` this test started, runs its
scripts (shipped with the plugin, no network), and the charts must be in the page; a screenshot is kept.
The same browser opens a `ledger chart` HTML file with networking off: the chart draws from the file alone."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers import corpus_store, serving
from ledger.readmodel.serve import METADATA_PATH

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"), reason="needs Debian's chromium (apt-get install chromium; CI installs it)"
)
CHARTS = list(yaml.safe_load(METADATA_PATH.read_text())["plugins"]["datasette-dashboards"]["policy"]["charts"])


def chromium(tmp_path: Path, *args: str) -> str:
    """Run headless Chromium with networking to anything but the page off; its standard output."""
    assert CHROMIUM, "chromium is not installed"
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=20000", *args,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture
def server(tmp_path):
    db = str(tmp_path / "ledger.db")
    corpus_store(db)
    with serving(db, str(tmp_path / "ledger.view.db")) as (base, _):
        yield base


def cards(dom: str) -> dict[str, str]:
    """Each dashboard card's HTML, by chart name."""
    starts = [(m.group(1), m.start()) for m in re.finditer(r'id="card-([\w-]+)"', dom)]
    return {name: dom[start : (starts[n + 1][1] if n + 1 < len(starts) else len(dom))] for n, (name, start) in enumerate(starts)}


def test_the_dashboards_charts_render_in_a_real_browser(server, tmp_path):
    url = f"{server}/-/dashboards/policy?as_of=2024-06-01"
    dom = chromium(tmp_path, "--dump-dom", url)
    found = cards(dom)
    assert set(found) == set(CHARTS)
    for name, html in found.items():
        if name == "status-on-date":
            assert "us-weapons-strikes-inside-russia" in html and "conditional" in html, html[:2000]
        else:
            assert re.search(r"<(svg|canvas)\b", html), f"{name} drew nothing: {html[:2000]}"
    screenshot = tmp_path / "dashboard.png"
    chromium(tmp_path, f"--screenshot={screenshot}", "--window-size=1400,2000", url)
    assert screenshot.stat().st_size > 50_000
    print(f"dashboard screenshot: {screenshot}")


def test_the_home_page_links_to_the_dashboard(server, tmp_path):
    dom = chromium(tmp_path, "--dump-dom", f"{server}/")
    assert 'href="/-/dashboards/policy"' in dom


def test_a_chart_html_file_draws_with_no_network(tmp_path):
    db = str(tmp_path / "ledger.db")
    corpus_store(db)
    page = tmp_path / "timeline.html"
    done = subprocess.run(
        [sys.executable, "-m", "ledger", "chart", "--db", db, "-o", str(page), "--only", "restrictions"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    dom = chromium(tmp_path, "--dump-dom", page.as_uri())
    assert re.search(r"<(svg|canvas)\b", dom), dom[:2000]
    chromium(tmp_path, f"--screenshot={tmp_path / 'chart.png'}", "--window-size=1300,700", page.as_uri())
