"""A history taken up from the read model's rows goes on exactly as one kept in memory."""

from __future__ import annotations

import random

import pytest
from benchmarks.generate import LedgerSpec

from helpers import SMALL, corpus_store, synthetic_store
from ledger.projections.history import group_by_entity
from ledger.readmodel.histories import EntityHistory, StoredState
from ledger.readmodel.rows import split_state
from ledger.store import open_store

BACKDATED = LedgerSpec(events=900, seed=23, actors=20, questions=5, restrictions=8, packages=10, areas=8, documents=30)


def stored_events(db: str) -> list[dict]:
    with open_store(db, create=False) as store:
        return [recorded.data for recorded in store.iter_events()]


def known_now(history: EntityHistory) -> dict:
    """The rows a read model holds as known now for a history: valid dates → (known_from, state as stored)."""
    return {dates: (opened, split_state(segment.state)) for dates, (segment, opened) in history.book.open.items()}


def parts_of(members: list[dict], rng: random.Random) -> list[list[dict]]:
    """The entity's events in reported order, cut at a few reported days."""
    ordered = sorted(members, key=lambda data: (data["reported"], data["id"]))
    days = sorted({data["reported"] for data in ordered})
    cuts = sorted(rng.sample(days, k=min(4, len(days))))
    parts = [[data for data in ordered if start <= data["reported"] < end] for start, end in zip(["", *cuts], [*cuts, "9999"])]
    return [part for part in parts if part]


def assert_resumed_histories_go_on_as_kept_ones(events: list[dict], seed: int) -> int:
    """For every entity, after each cut: a history resumed from the kept one's rows adds the rest with the same changes."""
    rng = random.Random(seed)
    resumed_count = 0
    for entity, members in group_by_entity(events).items():
        parts = parts_of(members, rng)
        kept = EntityHistory(entity)
        kept.add(parts[0])
        for done in range(1, len(parts)):
            seen = [data for part in parts[:done] for data in part]
            resumed = EntityHistory.resume(entity, seen, known_now(kept))
            assert resumed is not None, entity
            resumed_count += 1
            for part in parts[done:]:
                if not kept.accepts(part):
                    break
                assert resumed.add(part) == kept.add(part), entity
            kept = EntityHistory(entity)
            kept.add([*seen, *parts[done]])
    return resumed_count


@pytest.mark.parametrize("spec", [SMALL, BACKDATED], ids=["small", "backdated"])
def test_a_resumed_history_adds_later_events_as_the_kept_one_does_on_generated_ledgers(db, spec):
    synthetic_store(db, spec, batches=1)
    assert assert_resumed_histories_go_on_as_kept_ones(stored_events(db), seed=spec.seed) > 50


def test_a_resumed_history_adds_later_events_as_the_kept_one_does_on_the_corpus(db):
    corpus_store(db)
    assert assert_resumed_histories_go_on_as_kept_ones(stored_events(db), seed=5) > 5


def test_rows_that_are_not_the_events_current_state_are_not_resumed(db):
    synthetic_store(db, SMALL, batches=1)
    events = stored_events(db)
    entity, members = max(group_by_entity(events).items(), key=lambda item: len(item[1]))
    kept = EntityHistory(entity)
    kept.add(members)
    rows = known_now(kept)
    last = max(rows)
    wrong = {**rows, last: (rows[last][0], (rows[last][1][0].replace('"certainty":"', '"certainty":"not '), rows[last][1][1]))}
    assert EntityHistory.resume(entity, members, wrong) is None
    assert EntityHistory.resume(entity, members, {dates: row for dates, row in rows.items() if dates != min(rows)}) is None
    assert EntityHistory.resume(entity, members, rows) is not None


def test_a_stored_state_equals_the_rendered_state_it_was_stored_from():
    state = {"id": "x", "status": "permitted", "events": ["a", "b"], "certainty": "certain"}
    stored = StoredState(split_state(state))
    assert stored == state and state == stored and stored == StoredState(split_state(dict(state)))
    assert stored != {**state, "events": ["a"]} and stored != {**state, "status": "prohibited"}
