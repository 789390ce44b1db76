"""One covering index per history table, and full-text indexes without column sizes.

The history rows of migration 5 had the three indexes of the versions tables:
by entity, by the two open ends (covering the dates and the references to
state and events list) and by event. One index does the work of the first two
and reads no row: ``(entity, recorded_to, known_to, valid_from, valid_to,
known_from, recorded_from, state_id, events_list, events_end)``. One entity's
rows as recorded now and known now, in valid-time order, are a range of it (two
probes find the state on a date); every entity's rows on a date, as known at a
date or recorded through a position, are one pass over it, already in entity
order, with the dates tested inside it. Nothing looks rows up by
event, so that index goes.

The full-text indexes no longer keep the size of every column of every row
(``columnsize=0``): ranking computes them from the rows it ranks. They are
filled again from their tables here; the rows themselves are unchanged, so the
read model needs no rebuild.
"""

HISTORY_TABLES = ("restriction_history", "aid_package_history", "position_history", "territory_history")

FULL_TEXT = {"events_fts": ("summary, quote", "events"), "event_sources_fts": ("quote, outlet", "event_sources")}


def migrate(db):
    for history in HISTORY_TABLES:
        for suffix in ("entity", "as_of", "event"):
            db.execute(f"DROP INDEX IF EXISTS {history}_{suffix}")
        db.execute(
            f"CREATE INDEX {history}_entity ON {history} "
            "(entity, recorded_to, known_to, valid_from, valid_to, known_from, recorded_from, state_id, events_list, events_end)"
        )
    for index, (columns, table) in FULL_TEXT.items():
        db.execute(f"DROP TABLE {index}")
        # content="..." in double quotes, as Datasette looks for it to find a table's full-text index
        db.execute(f"CREATE VIRTUAL TABLE {index} USING fts5 ({columns}, content=\"{table}\", tokenize='porter unicode61', columnsize=0)")
        db.execute(f"INSERT INTO {index} ({index}) VALUES ('rebuild')")
