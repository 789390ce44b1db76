"""In a real browser: headless Chromium opens the dashboard of a `ledger serve` this test started, runs its
scripts (shipped with the plugin, no network), and the charts must be in the page; a screenshot is kept.
The same browser opens a `ledger chart` HTML file with networking off: the chart draws from the file alone."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from conftest import REPO
from ledger.ingest import ingest_paths
from ledger.readmodel.serve import METADATA_PATH
from ledger.store import open_store

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"), reason="needs Debian's chromium (apt-get install chromium; CI installs it)"
)
CHARTS = list(yaml.safe_load(METADATA_PATH.read_text())["plugins"]["datasette-dashboards"]["policy"]["charts"])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_answering(url: str, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"ledger serve exited early: {process.stdout.read() if process.stdout else ''}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    raise AssertionError(f"nothing answered at {url} within {seconds}s")


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
    with open_store(db) as store:
        ingest_paths(store, [REPO / "events"])
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "ledger", "serve", "--db", db, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "LEDGER_VIEW_DB": str(tmp_path / "ledger.view.db")},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(f"{base}/-/versions.json", process)
        yield base
    finally:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()


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
    with open_store(db) as store:
        ingest_paths(store, [REPO / "events"])
    page = tmp_path / "timeline.html"
    done = subprocess.run(
        [sys.executable, "-m", "ledger", "chart", "--db", db, "-o", str(page), "--only", "restrictions"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    dom = chromium(tmp_path, "--dump-dom", page.as_uri())
    assert re.search(r"<(svg|canvas)\b", dom), dom[:2000]
    chromium(tmp_path, f"--screenshot={tmp_path / 'chart.png'}", "--window-size=1300,700", page.as_uri())
