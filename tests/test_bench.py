"""The benchmark: its generated ledgers are valid and reproducible, and a small run completes with well-formed results.

These are not timed tests: no assertion here depends on how fast the machine is.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

from benchmarks.__main__ import bench
from benchmarks.generate import LedgerSpec, generate_events, generate_registry, write_jsonl
from benchmarks.targets import targets
from click.testing import CliRunner

from ledger.cli import main
from ledger.dates import parse_edtf
from ledger.events import event_adapter
from ledger.ingest import ingest_dicts, ingest_paths
from ledger.store import open_store

SMALL = LedgerSpec(events=2_000, seed=11)


def registry_by_kind(spec: LedgerSpec) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for kind, _, data in generate_registry(spec):
        found.setdefault(kind, []).append(data)
    return found


def test_generated_events_validate_and_mix_every_kind() -> None:
    events = list(generate_events(SMALL))
    assert len(events) == SMALL.events
    for data in events:
        event_adapter.validate_python(data)
    kinds = Counter(data["kind"] for data in events)
    assert set(kinds) == {"policy_change", "request", "statement", "battlefield", "aid_package", "correction"}
    assert any(len(data["sources"]) > 1 for data in events)
    assert any(data.get("links") for data in events)
    uncertain = [d for d in events if parse_edtf(d["occurred"]).precision != "day" or d["occurred"][-1] in "~?"]
    assert 0.05 < len(uncertain) / len(events) < 0.15


def test_generation_is_reproducible_and_sliceable() -> None:
    first = list(generate_events(SMALL))
    assert first == list(generate_events(SMALL))
    assert list(generate_events(SMALL, start=500, stop=700)) == first[500:700]
    assert first != list(generate_events(LedgerSpec(events=2_000, seed=12)))


def test_generated_ledger_ingests_with_its_references(tmp_path) -> None:
    with open_store(str(tmp_path / "ledger.db")) as store:
        report = ingest_dicts(store, list(generate_events(SMALL)), registry_by_kind(SMALL))
        assert len(report.appended) == SMALL.events
        assert store.verify().ok


def test_generated_jsonl_files_ingest_like_the_cli_reads_them(tmp_path) -> None:
    spec = LedgerSpec(events=1_000, seed=3)
    files = write_jsonl(spec, tmp_path / "corpus", per_file=400)
    assert sum(path.suffix == ".jsonl" for path in files) == 3
    with open_store(str(tmp_path / "ledger.db")) as store:
        report = ingest_paths(store, [tmp_path / "corpus"])
    assert len(report.appended) == spec.events


def test_small_benchmark_run_completes_with_well_formed_json(tmp_path) -> None:
    out = tmp_path / "run"
    json_path = tmp_path / "results" / "bench.json"
    result = CliRunner().invoke(
        bench,
        ["--events", "2000", "--out", str(out), "--json", str(json_path), "--queries", "20", "--batch", "500"],
    )
    assert result.exit_code == 0, result.output
    assert "ingest, validation + hash chain" in result.output
    data = json.loads(json_path.read_text())
    assert {"date", "machine", "spec", "sizes", "phases", "headline", "targets"} <= set(data)
    assert data["sizes"] == {"small": 200, "large": 2000}
    assert data["phases"]["ingest"]["events"] == 2000
    for key in ("ingest_events_per_s", "raw_executemany_events_per_s", "ingest_vs_raw", "ingest_vs_raw_busy",
                "chain_bytes_per_event", "rebuild_vs_raw", "query_sql_p50_ms", "peak_rss_mb", "disk_bytes_per_event", "by_the_book_events_per_s",
                "by_the_book_query_p50_ms"):  # fmt: skip
        assert isinstance(data["headline"][key], (int, float)) and data["headline"][key] > 0, key
    for value in data["headline"].values():
        assert value is None or value > 0
    assert data["phases"]["ingest_busy"]["events"] == 2000  # the same ledger, beside a busy loop
    assert data["phases"]["ingest"]["workers_peak_rss_mb"] > 0  # the validation workers were seen
    assert not list((out / "busy").glob("*.db"))  # its stores are not kept
    assert [row["key"] for row in data["targets"]] == [t.key for t in targets(200, 2000)]
    for row in data["targets"]:
        assert row["met"] in (True, False, None)
    assert data["phases"]["cli_replay"]["exit_code"] == 0
    assert list((out / "pycache").rglob("ledger/cli/*.pyc"))  # `ledger replay` ran with its modules compiled once, kept


def test_the_read_side_can_be_run_again_on_the_stores_a_run_left(tmp_path) -> None:
    json_path = tmp_path / "bench.json"
    args = ["--events", "1000", "--out", str(tmp_path / "run"), "--json", str(json_path), "--queries", "10"]
    assert CliRunner().invoke(bench, args).exit_code == 0
    first = json.loads(json_path.read_text())
    result = CliRunner().invoke(bench, ["--rerun-read-side", str(json_path)])
    assert result.exit_code == 0, result.output
    again = json.loads(json_path.read_text())
    assert again["phases"]["ingest"] == first["phases"]["ingest"]
    assert set(again["superseded"][0]["phases"]) == {"rebuild_100", "query_100", "rebuild_1000", "query_1000", "late", "cli_replay"}
    assert again["phases"]["rebuild_1000"]["finished"] and again["read_side_date"]


def test_the_benchmark_runs_as_one_documented_command() -> None:
    root = Path(__file__).resolve().parent.parent
    found = subprocess.run([sys.executable, "-m", "benchmarks", "--help"], capture_output=True, text=True, cwd=root)
    assert found.returncode == 0, found.stderr
    assert "Usage: python -m benchmarks" in found.stdout and "--events" in found.stdout
    assert "python -m benchmarks --events" in (root / "docs" / "benchmarks.md").read_text()


def test_the_benchmark_is_not_part_of_the_installed_package() -> None:
    import ledger

    assert not (Path(ledger.__file__).parent / "bench").exists()
    result = CliRunner().invoke(main, ["bench"])
    assert result.exit_code == 2 and "No such command" in result.output


def test_peak_memory_counts_worker_processes(tmp_path) -> None:
    from benchmarks.measure import DescendantsPeak

    grow = "x = bytearray(150 * 2**20); x[::4096] = b'1' * len(x[::4096]); import time; time.sleep(0.3)"
    with DescendantsPeak(interval=0.05) as peak:
        subprocess.run([sys.executable, "-c", grow], check=True)
    assert peak.peak_mb > 150
    with DescendantsPeak(interval=0.05) as idle:
        subprocess.run([sys.executable, "-c", "pass"], check=True)
    assert idle.peak_mb < 150


def test_processes_timed_keep_their_compiled_modules(tmp_path, monkeypatch) -> None:
    from benchmarks.run import with_bytecode

    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    env = with_bytecode(str(tmp_path / "pycache"))
    assert "PYTHONDONTWRITEBYTECODE" not in env and env["PYTHONPYCACHEPREFIX"] == str(tmp_path / "pycache")
    subprocess.run([sys.executable, "-c", "import benchmarks.targets"], env=env, check=True, cwd=Path(__file__).parent.parent)
    assert list((tmp_path / "pycache").rglob("targets*.pyc"))


def test_ledger_timed_is_the_script_installed_beside_the_interpreter(tmp_path, monkeypatch) -> None:
    from benchmarks.run import _ledger_command

    shim = tmp_path / "shims" / "ledger"  # a version manager's shim first on PATH
    shim.parent.mkdir()
    shim.write_text("#!/bin/sh\nexit 3\n")
    shim.chmod(0o755)
    monkeypatch.setenv("PATH", f"{shim.parent}{os.pathsep}{os.environ['PATH']}")
    command = _ledger_command()
    assert command[0] != str(shim)
    done = subprocess.run([*command, "--help"], capture_output=True, text=True, check=True)
    assert "replay" in done.stdout
