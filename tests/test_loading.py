"""Loading event files: bounded, with dates as text, no aliases, and every unreadable file named."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from ledger.loading import MAX_DEPTH, IngestProblem, LoadError, find_files, load_file, parse_json, parse_json_line, shown


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_unquoted_dates_in_yaml_stay_text_so_impossible_ones_reach_validation(tmp_path: Path) -> None:
    content = load_file(write(tmp_path, "e.yaml", "occurred: 2024-13-45\nreported: 2024-02-30\nok: 2024-05-30\n"))
    assert content == {"occurred": "2024-13-45", "reported": "2024-02-30", "ok": "2024-05-30"}


def test_yaml_keeps_numbers_booleans_and_nulls(tmp_path: Path) -> None:
    assert load_file(write(tmp_path, "e.yaml", "a: 1\nb: 1.5\nc: true\nd: null\n")) == {"a": 1, "b": 1.5, "c": True, "d": None}


def test_yaml_aliases_are_refused_quickly_even_as_a_bomb(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["xxxxxxxxxx"]'] + [f"a{n}: &a{n} [*a{n - 1}, *a{n - 1}, *a{n - 1}, *a{n - 1}]" for n in range(1, 30)]
    bomb = write(tmp_path, "bomb.yaml", "\n".join(lines) + "\n")
    started = time.perf_counter()
    with pytest.raises(LoadError, match="aliases"):
        load_file(bomb)
    assert time.perf_counter() - started < 1


def test_an_alias_inside_an_amendment_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", "summary: &s text\namended:\n  summary: *s\n")
    with pytest.raises(LoadError, match=r"aliases \(\*s\).*line 3"):
        load_file(path)


@pytest.mark.parametrize("text", ["[" * 100_000, "- " * 100_000, "{a: " * 100_000])
def test_deeply_nested_yaml_is_refused_without_crashing(tmp_path: Path, text: str) -> None:
    with pytest.raises(LoadError, match="nested more than"):
        load_file(write(tmp_path, "deep.yaml", text))


@pytest.mark.parametrize("name", ["deep.json", "deep.jsonl"])
def test_json_nested_100000_deep_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(LoadError, match="nested more than"):
        load_file(write(tmp_path, name, "[" * 100_000 + "]" * 100_000))


def test_json_just_within_the_depth_limit_loads() -> None:
    assert parse_json("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    with pytest.raises(LoadError):
        parse_json("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))


def test_an_overlong_event_line_is_refused_unparsed() -> None:
    with pytest.raises(LoadError, match="limit"):
        parse_json_line('{"id": "' + "x" * 2_000_000 + '"}')


def test_bad_bytes_and_bad_syntax_give_one_line_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"id: \xff\xfe\n")
    for path in (bad, write(tmp_path, "bad.json", "{"), write(tmp_path, "bad2.yaml", "a: [\n")):
        with pytest.raises(LoadError) as caught:
            load_file(path)
        assert "\n" not in str(caught.value)


def test_a_folder_lists_event_files_in_order_and_skips_other_names(tmp_path: Path) -> None:
    write(tmp_path, "b/2.yaml", "{}")
    write(tmp_path, "a/1.json", "{}")
    write(tmp_path, "a/notes.md", "text")
    files, problems = find_files([tmp_path])
    assert [p.relative_to(tmp_path).as_posix() for p in files] == ["a/1.json", "b/2.yaml"] and problems == []


def test_a_pipe_inside_a_folder_is_a_problem_not_a_skip_and_is_never_opened(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "waiting.yaml")
    files, problems = find_files([tmp_path])
    assert files == [] and len(problems) == 1 and "a pipe" in problems[0].reason


def test_a_pipe_named_directly_is_a_problem(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "p.json")
    _, problems = find_files([tmp_path / "p.json"])
    assert "not a regular file" in problems[0].reason


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every folder")
def test_an_unreadable_folder_inside_a_folder_is_a_problem(tmp_path: Path) -> None:
    write(tmp_path, "locked/e.yaml", "{}")
    (tmp_path / "locked").chmod(0)
    try:
        _, problems = find_files([tmp_path])
    finally:
        (tmp_path / "locked").chmod(0o755)
    assert problems and "cannot read the folder" in problems[0].reason


def test_problems_show_ids_escaped_and_cut() -> None:
    problem = IngestProblem("events/x.yaml", "\x1b]0;owned\x07" + "y" * 10_000_000, "id", "bad\u202eid")
    line = str(problem)
    assert "\x1b" not in line and "\x07" not in line and "\u202e" not in line
    assert "\\x1b]0;owned\\x07" in line and "\\u202e" in line
    assert len(line) < 1_000 and "10,000,010 characters" in line


def test_shown_leaves_ordinary_text_alone() -> None:
    assert shown("us-weapons-strikes-inside-russia") == "us-weapons-strikes-inside-russia"
    assert shown("Größe à Kyiv") == "Größe à Kyiv"
