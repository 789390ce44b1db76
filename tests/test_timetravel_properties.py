"""Properties over a real store: the order and batching of appends never changes an answer, and old answers can be reproduced."""

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import ledgers, query_days, replay
from ledger.projections import state_at
from ledger.store import open_store

SOME = settings(max_examples=15, deadline=None)


def append_in_batches(db: str, events: list[dict], cuts: list[int]) -> list[int]:
    """Append ``events`` in batches split at ``cuts``; return each batch's first position."""
    firsts = []
    with open_store(db) as store:
        for start, end in zip([0, *cuts], [*cuts, len(events)]):
            if end > start:
                firsts.append(store.append(events[start:end])[0])
    return firsts


def batch_cuts(draw, count: int) -> list[int]:
    return sorted(set(draw(st.lists(st.integers(1, max(count - 1, 1)), max_size=4))))


def without_counts(result: dict) -> dict:
    return {key: value for key, value in result.items() if key not in ("event_count", "recorded_through")}


@SOME
@given(ledgers(max_events=10), st.randoms(use_true_random=False), query_days(), st.one_of(st.none(), query_days()), st.data())
def test_random_event_sets_appended_in_random_orders_give_identical_replays(events, rng, as_of, known_at, data):
    shuffled = events[:]
    rng.shuffle(shuffled)
    with tempfile.TemporaryDirectory() as folder:
        one, other = str(Path(folder) / "one.db"), str(Path(folder) / "other.db")
        append_in_batches(one, events, [])
        append_in_batches(other, shuffled, batch_cuts(data.draw, len(events)))
        with open_store(one, create=False) as first, open_store(other, create=False) as second:
            assert without_counts(replay(first, as_of, known_at)) == without_counts(replay(second, as_of, known_at))


@SOME
@given(ledgers(max_events=10), query_days(), st.data())
def test_recorded_before_a_batch_answers_as_the_ledger_did_before_it(events, as_of, data):
    cuts = batch_cuts(data.draw, len(events))
    with tempfile.TemporaryDirectory() as folder:
        db = str(Path(folder) / "ledger.db")
        firsts = append_in_batches(db, events, cuts)
        sizes = [end - start for start, end in zip([0, *cuts], [*cuts, len(events)]) if end > start]
        with open_store(db, create=False) as store:
            for index, first in enumerate(firsts):
                earlier = events[: sum(sizes[:index])]
                result = replay(store, as_of, recorded_before=first)
                assert without_counts(result) == {
                    "as_of": as_of.isoformat(),
                    "known_at": None,
                    "recorded_before": first,
                    **state_at(earlier, as_of),
                }
                inside = first + data.draw(st.integers(0, sizes[index] - 1))
                assert replay(store, as_of, recorded_before=inside)["event_count"] == len(earlier)
