"""`ledger replay` answers from the read model when it has caught up, and from the store's fold otherwise."""

import json
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from helpers import SMALL, corpus_store, synthetic_store
from ledger.api import Ledger
from ledger.cli import main
from ledger.readmodel import project
from ledger.readmodel.query import current_view

EVENTS = Path(__file__).resolve().parents[1] / "events"
CONTRACT = ("restrictions", "aid_packages", "positions", "territory")


@pytest.fixture(scope="module")
def corpus_ledger(tmp_path_factory):
    """The corpus ledger with its read model current, open."""
    db = str(tmp_path_factory.mktemp("corpus") / "ledger.db")
    corpus_store(db)
    project(db)
    with Ledger(db) as ledger:
        yield ledger


def replay(db, *args):
    result = CliRunner().invoke(main, ["replay", "--db", db, "--format", "json", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_replay_reads_the_read_model_only_when_it_is_current_and_both_agree(tmp_path):
    db = str(tmp_path / "ledger.db")
    assert CliRunner().invoke(main, ["ingest", str(EVENTS), "--db", db, "--no-project"]).exit_code == 0
    assert current_view(db) is None  # no read model yet: the fold answers
    folded = {date: replay(db, "--as-of", date) for date in ("2024-05-20", "2024-06-01", "2024-08-25")}
    known = replay(db, "--as-of", "2024-05-31", "--known-at", "2024-05-29")

    assert CliRunner().invoke(main, ["project", "--db", db]).exit_code == 0
    assert current_view(db) == str(tmp_path / "ledger.view.db")
    for date, expected in folded.items():
        answered = replay(db, "--as-of", date)
        assert answered["recorded_through"] == answered["event_count"] == len(list(EVENTS.rglob("2*.yaml")))
        assert {k: answered[k] for k in CONTRACT} == {k: expected[k] for k in CONTRACT}
    answered = replay(db, "--as-of", "2024-05-31", "--known-at", "2024-05-29")
    assert {k: answered[k] for k in CONTRACT} == {k: known[k] for k in CONTRACT}


def test_a_read_model_that_is_behind_is_caught_up_before_it_answers(tmp_path, ledger_dir):
    from conftest import make_event, write_events

    db = str(tmp_path / "ledger.db")
    write_events(ledger_dir / "a.yaml", make_event("ban", "policy_change", restriction={"id": "r-1", "status": "prohibited"}))
    assert CliRunner().invoke(main, ["ingest", str(ledger_dir), "--db", db]).exit_code == 0
    write_events(
        ledger_dir / "b.yaml",
        make_event(
            "lifted", "policy_change", occurred="2024-06-01", reported="2024-06-01", restriction={"id": "r-1", "status": "permitted"}
        ),
    )
    assert CliRunner().invoke(main, ["ingest", str(ledger_dir), "--db", db, "--no-project"]).exit_code == 0
    assert current_view(db) is None  # behind by one event
    answered = replay(db, "--as-of", "2024-06-02")
    assert "recorded_through" in answered and answered["restrictions"][0]["status"] == "permitted"
    assert current_view(db) is not None
    earlier = replay(db, "--as-of", "2024-06-02", "--recorded-before", "2")
    assert earlier["restrictions"][0]["status"] == "prohibited"


# --- a Ledger kept open stays current: what others write shows in its next answer ------------------


def decision(event_id: str, status: str, day: str) -> dict:
    from conftest import make_event

    return make_event(event_id, "policy_change", occurred=day, reported=day, restriction={"id": "r-1", "status": status})


def open_ledger_with_a_read_model(tmp_path, ledger_dir):
    """A ledger of one decision, its read model current, and a Ledger that has answered from it once."""
    from conftest import write_events

    db = str(tmp_path / "ledger.db")
    write_events(ledger_dir / "a.yaml", decision("ban", "prohibited", "2024-05-01"))
    assert CliRunner().invoke(main, ["ingest", str(ledger_dir), "--db", db]).exit_code == 0
    ledger = Ledger(db)
    assert ledger.engine_for() == "view"
    assert statuses(ledger) == ["prohibited"]
    return db, ledger


def statuses(ledger) -> list[str]:
    return [state["status"] for state in ledger.replay("2024-06-02", only="restrictions").restrictions]


def test_an_open_ledger_answers_with_what_another_process_appended(tmp_path, ledger_dir):
    import subprocess
    import sys

    from conftest import write_events

    db, ledger = open_ledger_with_a_read_model(tmp_path, ledger_dir)
    with ledger:
        write_events(ledger_dir / "b.yaml", decision("lifted", "permitted", "2024-06-01"))
        appended = subprocess.run(
            [sys.executable, "-m", "ledger", "ingest", str(ledger_dir), "--db", db, "--no-project"], capture_output=True, text=True
        )
        assert appended.returncode == 0, appended.stderr
        assert statuses(ledger) == ["permitted"]  # the read model was behind: caught up before answering
        answered = ledger.replay("2024-06-02", only="restrictions")
        assert (answered.recorded_through, answered.event_count) == (2, 2)
        assert ledger.engine_for() == "view"


def test_an_open_ledger_answers_from_a_read_model_rebuilt_by_another_process(tmp_path, ledger_dir):
    import os
    import sqlite3
    from contextlib import closing

    db, ledger = open_ledger_with_a_read_model(tmp_path, ledger_dir)
    with ledger:
        rebuilt = tmp_path / "rebuilt.view.db"
        assert CliRunner().invoke(main, ["project", "--rebuild", "--db", db, "--view", str(rebuilt)]).exit_code == 0
        with closing(sqlite3.connect(rebuilt)) as conn:  # a mark only the new file holds
            conn.execute("UPDATE restriction_states SET state = json_set(state, '$.status', 'rebuilt')")
            conn.commit()
            conn.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, as a rebuild renames it
        os.replace(rebuilt, tmp_path / "ledger.view.db")  # the old file untouched: only its name now opens another
        assert statuses(ledger) == ["rebuilt"]


def test_an_open_ledger_stops_answering_from_a_read_model_changed_under_it(tmp_path, ledger_dir):
    import sqlite3

    db, ledger = open_ledger_with_a_read_model(tmp_path, ledger_dir)
    with ledger, sqlite3.connect(tmp_path / "ledger.view.db") as conn:
        conn.execute("UPDATE projector_state SET chain_hash = 'of another store'")  # in place, as a migration or a mix-up would
        conn.commit()
        assert ledger.engine_for() == "fold"
        assert statuses(ledger) == ["prohibited"]


def test_an_open_ledger_answers_from_a_store_that_replaced_its_file(tmp_path, ledger_dir):
    import os

    from conftest import write_events

    db, ledger = open_ledger_with_a_read_model(tmp_path, ledger_dir)
    with ledger:
        other = tmp_path / "other"
        write_events(other / "events" / "a.yaml", decision("ban", "permitted", "2024-05-01"))
        for name in ("actors.yaml", "documents.yaml", "questions.yaml"):
            (other / "events" / name).write_bytes((ledger_dir / name).read_bytes())
        assert CliRunner().invoke(main, ["ingest", str(other / "events"), "--db", str(other / "ledger.db"), "--no-project"]).exit_code == 0
        os.replace(other / "ledger.db", db)  # the read model stays: one of another store now
        assert statuses(ledger) == ["permitted"]
        assert ledger.engine_for() == "fold"


def test_an_open_ledger_answers_one_entity_with_what_another_process_appended(tmp_path, ledger_dir):
    import subprocess
    import sys

    from conftest import write_events

    db, ledger = open_ledger_with_a_read_model(tmp_path, ledger_dir)
    with ledger:
        assert [state["status"] for state in ledger.replay("2024-06-02", entity="r-1").restrictions] == ["prohibited"]
        write_events(ledger_dir / "b.yaml", decision("lifted", "permitted", "2024-06-01"))
        appended = subprocess.run(
            [sys.executable, "-m", "ledger", "ingest", str(ledger_dir), "--db", db, "--no-project"], capture_output=True, text=True
        )
        assert appended.returncode == 0, appended.stderr
        answered = ledger.replay("2024-06-02", entity="restrictions:r-1")
        assert [state["status"] for state in answered.restrictions] == ["permitted"]  # caught up before answering
        assert (answered.recorded_through, answered.event_count) == (2, 2)
        assert ledger.engine_for() == "view"


def test_one_entity_is_answered_by_the_fold_when_there_is_no_read_model_and_asking_the_read_model_then_fails(tmp_path, ledger_dir):
    from conftest import write_events
    from ledger.readmodel.schema import ReadModelError

    db = str(tmp_path / "ledger.db")
    write_events(ledger_dir / "a.yaml", decision("ban", "prohibited", "2024-05-01"))
    assert CliRunner().invoke(main, ["ingest", str(ledger_dir), "--db", db, "--no-project"]).exit_code == 0
    with Ledger(db) as ledger:
        answered = ledger.replay("2024-06-02", entity="r-1")
        assert [state["status"] for state in answered.restrictions] == ["prohibited"]
        assert (answered.recorded_through, answered.event_count) == (1, 1)
        with pytest.raises(ReadModelError):
            ledger.replay("2024-06-02", entity="r-1", engine="view")


@pytest.mark.parametrize("day", ["2024-01-01", "2024-05-20", "2024-06-01", "2024-08-25"])
def test_every_entity_alone_is_what_the_fold_gives_for_it(corpus_ledger, day):
    everything = corpus_ledger.replay(day, engine="fold")
    asked = 0
    for name, states in everything.lists().items():
        for state in states:
            for entity in (state["id"], f"{name}:{state['id']}"):
                for only in (None, name):
                    alone = corpus_ledger.replay(day, only=only, entity=entity)
                    assert alone == corpus_ledger.replay(day, only=only, entity=entity, engine="fold")
                    assert getattr(alone, name) == [state]
                    asked += 1
    assert asked > 40
    assert corpus_ledger.replay(day, entity="no-such-entity") == corpus_ledger.replay(day, entity="no-such-entity", engine="fold")


@pytest.mark.parametrize("engine", ["view", "fold"])
@pytest.mark.parametrize(
    "asked",
    [
        {},
        {"only": "restrictions,aid"},
        {"known_at": "2024-05-29"},
        {"recorded_before": 20},
        {"recorded_before": "100000"},
        {"entity": "us-weapons-strikes-inside-russia"},
        {"entity": "positions:us-weapons-strikes-inside-russia"},
    ],
    ids=str,
)
def test_replay_json_is_the_typed_answer_dumped(corpus_ledger, engine, asked):
    typed = corpus_ledger.replay("2024-06-01", engine=engine, **asked).model_dump(mode="json")
    assert corpus_ledger.replay_json("2024-06-01", engine=engine, **asked) == typed
    each = corpus_ledger.replay_json("2024-06-01", engine=engine, each=lambda state: ("seen", state), **asked)
    assert {key: [state for _, state in value] if key in CONTRACT else value for key, value in each.items()} == typed
    assert all(seen == "seen" for key in CONTRACT for seen, _ in each.get(key, []))


@pytest.mark.parametrize("recorded_before", [None, 1, 20, 100_000], ids=str)
def test_both_engines_say_which_events_an_answer_used(corpus_ledger, recorded_before):
    view = corpus_ledger.replay("2024-06-01", recorded_before=recorded_before, engine="view")
    fold = corpus_ledger.replay("2024-06-01", recorded_before=recorded_before, engine="fold")
    assert (view.recorded_through, view.event_count) == (fold.recorded_through, fold.event_count)


# --- replay --format json: one compact state per line, the same bytes from both engines ----------


def stored_states(view: str) -> list[tuple[str, str]]:
    """Every state the read model holds, as its stored text and its events list's JSON."""
    import sqlite3

    from ledger.readmodel.query import HISTORY_TABLES, stored_states

    with sqlite3.connect(view) as conn:
        return [row for table in HISTORY_TABLES.values() for row in conn.execute(stored_states(table)).fetchall()]


def test_every_stored_state_put_back_together_unparsed_is_its_compact_sorted_json(tmp_path, corpus_ledger):
    from ledger.readmodel.rows import whole_state, whole_state_json

    db, view = str(tmp_path / "ledger.db"), str(tmp_path / "ledger.view.db")
    synthetic_store(db, SMALL, batches=3)
    project(db, view)
    rows = stored_states(view) + stored_states(corpus_ledger.view_path)
    assert len(rows) > 500
    for stored, events in rows:
        assert whole_state_json(stored, events) == orjson.dumps(whole_state(stored, events), option=orjson.OPT_SORT_KEYS).decode()


def test_a_stored_state_with_a_nested_events_key_is_parsed_and_dumped_instead():
    from ledger.readmodel.rows import whole_state_json

    stored = '{"details":{"events":[]},"events":[],"id":"r-1"}'
    assert whole_state_json(stored, '["a","b"]') == '{"details":{"events":[]},"events":["a","b"],"id":"r-1"}'
    after = '{"events":[],"id":"r-1","notes":{"events":[]}}'  # the nested key after the state's own
    assert whole_state_json(after, '["a"]') == '{"events":["a"],"id":"r-1","notes":{"events":[]}}'


@pytest.mark.parametrize("engine", ["view", "fold"])
@pytest.mark.parametrize(
    "asked", [{}, {"known_at": "2024-05-29"}, {"recorded_before": 20}, {"entity": "us-weapons-strikes-inside-russia"}], ids=str
)
def test_replay_json_gives_each_state_as_compact_sorted_json(corpus_ledger, engine, asked):
    typed = corpus_ledger.replay("2024-06-01", engine=engine, **asked).model_dump(mode="json")
    texts = corpus_ledger.replay_json("2024-06-01", engine=engine, each_json=lambda text: text, **asked)
    assert {key: [orjson.loads(text) for text in value] if key in CONTRACT else value for key, value in texts.items()} == typed
    assert all(text == orjson.dumps(orjson.loads(text), option=orjson.OPT_SORT_KEYS).decode() for key in CONTRACT for text in texts[key])


def replay_bytes(db, *args):
    result = CliRunner().invoke(main, ["replay", "--db", db, "--format", "json", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout_bytes


@pytest.mark.parametrize(
    "asked",
    [
        ["--as-of", "2024-06-01"],
        ["--as-of", "2024-05-31", "--known-at", "2024-05-29"],
        ["--as-of", "2024-08-25", "--only", "restrictions,aid"],
    ],
)
def test_replay_prints_one_compact_state_a_line_and_the_same_bytes_from_both_engines(tmp_path, asked):
    db = str(tmp_path / "ledger.db")
    corpus_store(db)
    folded = replay_bytes(db, *asked)
    project(db)
    assert current_view(db) is not None
    answered = replay_bytes(db, *asked)
    assert answered == folded
    document = orjson.loads(answered)
    with Ledger(db) as ledger:
        only = asked[asked.index("--only") + 1] if "--only" in asked else None
        known_at = asked[asked.index("--known-at") + 1] if "--known-at" in asked else None
        assert document == ledger.replay(asked[1], known_at, only=only, engine="fold").model_dump(mode="json")
    lines = answered.decode().splitlines()
    states = [state for key in sorted(CONTRACT) for state in document.get(key, [])]  # as printed: keys sorted
    assert states
    state_lines = [line for line in lines if line.startswith("    {")]
    assert [orjson.loads(line.strip().rstrip(",")) for line in state_lines] == states
    assert all(
        line == "    " + orjson.dumps(state, option=orjson.OPT_SORT_KEYS).decode() + ("," if line.endswith(",") else "")
        for line, state in zip(state_lines, states)
    )


def test_the_projections_asked_for_are_read_the_same_however_only_is_given_and_each_time():
    from ledger.api import asked_names
    from ledger.projections.selection import UnknownProjection

    for _ in range(2):
        assert asked_names(None) == ["restrictions", "aid_packages", "positions", "territory"]
        assert asked_names("territory,aid") == ["aid_packages", "territory"]
        assert asked_names(["aid", "territory"]) == asked_names(("territory", "aid_packages")) == ["aid_packages", "territory"]
        assert asked_names(name for name in ["positions"]) == ["positions"]
        with pytest.raises(UnknownProjection):
            asked_names("restrictions,tanks")
    first = asked_names("positions")
    first.append("changed by a caller")
    assert asked_names("positions") == ["positions"]


@pytest.mark.parametrize("engine", ["view", "fold"])
@pytest.mark.parametrize(
    "asked",
    [{}, {"known_at": "2024-05-29"}, {"recorded_before": 20}, {"only": "territory"}, {"entity": "us-weapons-strikes-inside-russia"}],
    ids=str,
)
def test_replay_json_texts_gives_each_state_as_its_compact_sorted_json_in_utf8(corpus_ledger, engine, asked):
    expected = corpus_ledger.replay_json("2024-06-01", engine=engine, each_json=str.encode, **asked)
    texts = corpus_ledger.replay_json_texts("2024-06-01", engine=engine, **asked)
    assert {key: list(value) if key in CONTRACT else value for key, value in texts.items()} == expected
    assert asked or any(expected[key] for key in CONTRACT)


def test_a_state_read_as_bytes_is_put_back_together_as_the_text_is(tmp_path, corpus_ledger):
    from ledger.readmodel.query import state_json
    from ledger.readmodel.rows import whole_state_json

    db, view = str(tmp_path / "ledger.db"), str(tmp_path / "ledger.view.db")
    synthetic_store(db, SMALL, batches=2)
    project(db, view)
    for stored, events in stored_states(view) + stored_states(corpus_ledger.view_path):
        assert state_json(stored.encode(), events[:-1].encode()) == whole_state_json(stored, events).encode()
    nested = '{"details":{"events":[]},"events":[],"id":"r-1"}'
    assert state_json(nested.encode(), b'["a"') == b'{"details":{"events":[]},"events":["a"],"id":"r-1"}'
    after = '{"events":[],"id":"r-1","notes":{"events":[]}}'
    assert state_json(after.encode(), b'["a"') == b'{"events":["a"],"id":"r-1","notes":{"events":[]}}'


@pytest.mark.parametrize("batch", [1, 2, 3, 2000])
def test_lists_written_as_they_are_read_give_the_bytes_of_the_whole_answer_dumped(capsysbinary, batch):
    from ledger.cli.output import emit_json, emit_json_lists

    states = {
        "aid_packages": [],
        "positions": [{"id": "a:q", "stance": "yes"}, {"events": ["e-1"], "id": "b:q"}],
        "restrictions": [{"id": f"r-{n}", "since": None} for n in range(4)],
    }
    data = {"as_of": "2024-06-01", "event_count": 3, "known_at": None, "recorded_before": None, "recorded_through": 3, **states}
    emit_json({**data, **{name: [orjson.Fragment(orjson.dumps(state)) for state in value] for name, value in states.items()}})
    expected = capsysbinary.readouterr().out
    emit_json_lists({**data, **{name: (orjson.dumps(state) for state in value) for name, value in states.items()}}, CONTRACT, batch)
    assert capsysbinary.readouterr().out == expected
    assert orjson.loads(expected) == data


def test_a_typed_answer_keeps_each_state_as_given_and_refuses_what_is_not_a_state():
    from pydantic import ValidationError

    from ledger.results import State

    state = {"id": "r-1", "status": "prohibited", "events": ["ban"]}
    answer = State.model_validate({"as_of": "2024-06-01", "recorded_through": 1, "event_count": 1, "restrictions": [state]})
    assert answer.restrictions == [state]
    assert answer.model_dump(mode="json") == {
        "as_of": "2024-06-01",
        "known_at": None,
        "recorded_before": None,
        "recorded_through": 1,
        "event_count": 1,
        "restrictions": [state],
    }
    for wrong in (["r-1"], [[("id", "r-1")]], "r-1"):
        with pytest.raises(ValidationError):
            State.model_validate({"as_of": "2024-06-01", "recorded_through": 1, "event_count": 1, "restrictions": wrong})
    with pytest.raises(ValidationError):
        State.model_validate({"as_of": "2024-06-01", "recorded_through": 1, "event_count": 1, "tanks": []})
