"""An index of the rows held now, and the lookups by entity through the entity_events key.

Most questions are asked of the ledger as recorded now and as known now: one
entity's state on a date, or every entity's (``ledger replay --as-of D``). The
covering index of migration 6 starts with the entity, so the second question
read every row of every entity, closed ones included (at a million events,
three rows in four). ``<name>_history_now`` holds only the rows with both ends
open (``recorded_to IS NULL AND known_to IS NULL``), in entity and valid-time
order, with the references to their state and events list: every entity's
state on a date is one pass over it, one entity's is two probes into it.
``recorded_to`` and ``known_to`` (always NULL in it) close the index, so SQLite
reads no row to test them. The covering index of migration 6 stays for the
other questions (as known at a date, as recorded through a position) and for
the projector.

``entity_events`` is keyed by (projection, entity, position): the entity
history canned query names the four projections, so its key finds an entity's
events and the index by entity alone goes.

Only indexes change: the rows are as they were, and the read model needs no rebuild.
"""

HISTORY_TABLES = ("restriction_history", "aid_package_history", "position_history", "territory_history")


def migrate(db):
    for history in HISTORY_TABLES:
        db.execute(
            f"CREATE INDEX {history}_now ON {history} "
            "(entity, valid_from, valid_to, state_id, events_list, events_end, recorded_to, known_to) "
            "WHERE recorded_to IS NULL AND known_to IS NULL"
        )
    db.execute("DROP INDEX IF EXISTS entity_events_entity")
