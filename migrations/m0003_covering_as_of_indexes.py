"""Whole-state as-of lookups answered inside the index.

The ``*_as_of`` index of migration 2 lists ``(recorded_to, known_to, valid_from)``:
to test ``valid_to`` SQLite had to read every known-now row of the table, each
with its rendered state, to keep the few that hold on the date, then sort them
by entity. This index holds both dates after the entity, so the rows that do not
hold are skipped without leaving the index, only the answer's rows are read, and
they come out in entity order.
"""

TABLES = ("restriction_versions", "aid_package_versions", "position_versions", "territory_versions")


def migrate(db):
    for table in TABLES:
        db.execute(f"DROP INDEX IF EXISTS {table}_as_of")
        db.execute(f"CREATE INDEX {table}_as_of ON {table} (recorded_to, known_to, entity, valid_from, valid_to)")
