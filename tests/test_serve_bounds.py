"""`ledger serve` bounds every request: a real server on a free loopback port, stopped by its PID.

Single SQL calls that used to run for tens of seconds and take gigabytes are
refused or cut at once; long queries stop at the time limit; other requests keep
being answered meanwhile; the server's peak memory stays small; canned queries
answer POST as they answer GET.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from helpers import corpus_store, serving
from ledger.readmodel.bounds import MAX_VALUE_BYTES, bounded_printf, linear_instr, linear_replace

BIG = "replace(printf('%.*c', 100000, 'x'), 'x', 'aaaaaaaaaa')"  # a megabyte of text, built within the limits
HALF = "replace(printf('%.*c', 50000, 'x'), 'x', 'aaaaaaaaaa')"
RUNAWAY_CALLS = {
    "printf with a billion-character precision": "select length(printf('%.*c', 999999999, 'x'))",
    "format, printf's other name": "select length(format('%.*c', 999999999, 'x'))",
    "a 200 MB random blob": "select length(randomblob(200000000))",
    "a 200 MB zero blob": "select length(zeroblob(200000000))",
    "instr of half a megabyte in a megabyte": f"select instr({BIG}, {HALF} || 'b')",
    "replace of half a megabyte in a megabyte": f"select length(replace({BIG}, {HALF} || 'b', 'x'))",
    "a string grown past the limit": f"select length(replace({BIG}, 'a', 'aaaa'))",
    "LIKE with many wildcards on a megabyte": f"select {BIG} like '%a%a%a%a%a%a%a%a%a%a%a%a%a%a%a%a%b'",
    "a thousand one-megabyte rows": "with recursive n(i) as (select 1 union all select i + 1 from n where i < 1000) select randomblob(1000000) from n",
    "an endless recursive query": "with recursive n(i) as (select 1 union all select i + 1 from n) select count(*) from n",
    "a two-million-row sort": "with recursive n(i) as (select 1 union all select i + 1 from n where i < 2000000) select i from n order by random()",
}


def request(url: str, data: bytes | None = None, headers: dict[str, str] | None = None, timeout: float = 60) -> tuple[int, str, float]:
    """(status, body, seconds) of one HTTP request; POST when ``data`` is given."""
    call = urllib.request.Request(url, data=data, headers=headers or {}, method="POST" if data is not None else "GET")
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(call, timeout=timeout) as response:
            return response.status, response.read().decode(), time.perf_counter() - started
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), time.perf_counter() - started


def peak_memory_bytes(pid: int) -> int:
    """The process's peak resident memory (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("serve")
    db = str(folder / "ledger.db")
    corpus_store(db)
    with serving(db, str(folder / "ledger.view.db")) as running:
        yield running


def sql_url(base: str, sql: str) -> str:
    return f"{base}/ledger.json?" + urllib.parse.urlencode({"sql": sql, "_shape": "array"})


@pytest.mark.parametrize("sql", RUNAWAY_CALLS.values(), ids=list(RUNAWAY_CALLS))
def test_a_runaway_query_ends_within_seconds_and_the_server_stays_small(server, sql: str) -> None:
    base, process = server
    status, body, seconds = request(sql_url(base, sql))
    assert status in (200, 400), body[:500]
    assert seconds < 5, f"{seconds:.1f}s"
    assert peak_memory_bytes(process.pid) < 600 * 1024 * 1024
    status, body, _ = request(sql_url(base, "select 1 as one"))
    assert status == 200 and json.loads(body) == [{"one": 1}]


def test_other_requests_are_answered_while_a_long_query_runs(server) -> None:
    base, _ = server
    slow = threading.Thread(target=request, args=(sql_url(base, RUNAWAY_CALLS["an endless recursive query"]),))
    slow.start()
    time.sleep(0.1)
    status, body, seconds = request(f"{base}/ledger/restrictions_as_of.json?as_of=2024-06-01&_shape=array")
    slow.join()
    assert status == 200 and json.loads(body) and seconds < 3


def test_a_canned_query_answers_post_as_it_answers_get(server) -> None:
    base, _ = server
    status, got, _ = request(f"{base}/ledger/restrictions_as_of.json?as_of=2024-06-01&_shape=array")
    assert status == 200 and json.loads(got)
    status, posted, _ = request(f"{base}/ledger/restrictions_as_of.json?_shape=array", data=b"as_of=2024-06-01")
    assert status == 200 and json.loads(posted) == json.loads(got)
    status, posted_json, _ = request(
        f"{base}/ledger/restrictions_as_of.json?_shape=array", data=b'{"as_of": "2024-06-01"}', headers={"content-type": "application/json"}
    )
    assert status == 200 and json.loads(posted_json) == json.loads(got)
    status, page, _ = request(f"{base}/ledger/restrictions_as_of", data=b"as_of=2024-06-01")
    assert status == 200 and "<html" in page.lower()


def test_a_post_to_a_table_is_refused_cleanly(server) -> None:
    base, _ = server
    status, body, _ = request(f"{base}/ledger/restriction_versions", data=b"a=1")
    assert status == 405 and "canned queries" in body


def test_an_oversized_post_body_is_refused(server) -> None:
    base, _ = server
    status, _, _ = request(f"{base}/ledger/restrictions_as_of.json", data=b"as_of=" + b"x" * 200_000)
    assert status == 413


def test_the_replacement_functions_answer_as_sqlite_does() -> None:
    assert bounded_printf("%d-%s|%5.2f", 7, "x", 3.14159) == "7-x| 3.14"
    assert bounded_printf("%.*c", 999_999_999, "x") is None and bounded_printf(None) is None
    assert linear_instr("hello", "ll") == 3 and linear_instr("hello", "z") == 0 and linear_instr(None, "a") is None
    assert linear_instr(b"\x00\x01\x02", b"\x02") == 3 and linear_instr(12345, 34) == 3
    assert linear_replace("hello", "l", "L") == "heLLo" and linear_replace("abc", "", "x") == "abc"
    with pytest.raises(ValueError):
        linear_replace("a" * MAX_VALUE_BYTES, "a", "aa")
