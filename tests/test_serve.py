"""`ledger serve` end to end: a real Datasette process on a free loopback port, read-only, stopped by its PID."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from helpers import corpus_store


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fetch(url: str, data: bytes | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def wait_until_answering(url: str, process: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"ledger serve exited early: {process.stdout.read()}")
        try:
            fetch(url)
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise AssertionError(f"nothing answered at {url} within {seconds}s")


@pytest.fixture
def server(db, tmp_path):
    corpus_store(db)
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
        wait_until_answering(base + "/-/versions.json", process)
        yield base, process
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
            process.wait(timeout=10)
        process.stdout.close()


def test_ledger_serve_answers_pages_and_canned_queries_and_refuses_writes(server, tmp_path):
    base, process = server
    status, page = fetch(base + "/ledger/restriction_versions")
    assert status == 200 and "<html" in page.lower() and "The history of every restriction" in page

    query = urllib.parse.urlencode({"as_of": "2024-06-01", "_shape": "array"})
    status, body = fetch(f"{base}/ledger/restrictions_as_of.json?{query}")
    assert status == 200
    restrictions = json.loads(body)
    assert restrictions and {"id", "status", "certainty", "disputed", "state"} <= set(restrictions[0])

    status, _ = fetch(base + "/ledger", data=urllib.parse.urlencode({"sql": "delete from events"}).encode())
    assert status in (403, 405)
    status, body = fetch(base + "/ledger.json?" + urllib.parse.urlencode({"sql": "delete from events"}))
    assert status == 400 and "SELECT" in body
    status, body = fetch(base + "/ledger.json?" + urllib.parse.urlencode({"sql": "select count(*) as n from events", "_shape": "array"}))
    assert status == 200 and json.loads(body)[0]["n"] > 0

    os.kill(process.pid, signal.SIGTERM)
    assert process.wait(timeout=10) is not None
    assert f"read-only at http://127.0.0.1:{base.rsplit(':', 1)[1]}/ledger" in process.stdout.read()
