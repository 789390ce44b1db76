"""`ledger serve` end to end: a real Datasette process on a free loopback port, read-only, stopped by its PID."""

from __future__ import annotations

import json
import os
import signal
import urllib.error
import urllib.parse
import urllib.request

import pytest

from helpers import corpus_store, serving


def fetch(url: str, data: bytes | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.fixture
def server(db, tmp_path):
    corpus_store(db)
    with serving(db, str(tmp_path / "ledger.view.db"), seconds=30) as (base, process):
        yield base, process


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
