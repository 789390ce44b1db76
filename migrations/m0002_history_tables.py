"""The four projections' bitemporal history, with the recorded axis, and a ``*_current`` view of each.

A row holds for ``valid_from <= as_of < valid_to`` and ``known_from <= known_at < known_to``
(ends exclusive, NULL = open), and was part of the read model for store positions
``recorded_from <= P < recorded_to`` (NULL = still is).
"""

COMMON = """
    id INTEGER PRIMARY KEY,
    entity TEXT NOT NULL,
    valid_from TEXT,
    valid_to TEXT,
    known_from TEXT,
    known_to TEXT,
    recorded_from INTEGER NOT NULL,
    recorded_to INTEGER,
    certainty TEXT NOT NULL,
    disputed INTEGER NOT NULL,
    event_id TEXT NOT NULL REFERENCES events (id),
"""

TABLES = {
    "restriction_versions": """
    status TEXT,
    stage TEXT,
    issuer TEXT REFERENCES actors (id),
    subject TEXT REFERENCES actors (id),
    weapons TEXT,
    area TEXT,
    targets TEXT,
    purpose TEXT,
    conditions TEXT,
    since TEXT,
    since_text TEXT,
""",
    "aid_package_versions": """
    status TEXT,
    donor TEXT REFERENCES actors (id),
    recipient TEXT REFERENCES actors (id),
    authority TEXT,
    tranche TEXT,
    announced TEXT,
    value_amount NUMERIC,
    value_currency TEXT,
    value_qualifier TEXT,
    items TEXT,
    measure TEXT,
    since TEXT,
    since_text TEXT,
""",
    "position_versions": """
    actor TEXT REFERENCES actors (id),
    question TEXT REFERENCES questions (id),
    stance TEXT,
    quote TEXT,
    since TEXT,
    since_text TEXT,
""",
    "territory_versions": """
    holder TEXT REFERENCES actors (id),
    size_value NUMERIC,
    size_unit TEXT,
    claimed_by TEXT REFERENCES actors (id),
    since TEXT,
    since_text TEXT,
""",
}

TAIL = """
    state TEXT NOT NULL
"""

# Valid today, as known today, as recorded now.
CURRENT_VIEW = """
CREATE VIEW {name}_current AS
SELECT * FROM {name}_versions
WHERE recorded_to IS NULL
  AND (known_from IS NULL OR known_from <= date('now'))
  AND (known_to IS NULL OR known_to > date('now'))
  AND (valid_from IS NULL OR valid_from <= date('now'))
  AND (valid_to IS NULL OR valid_to > date('now'))
"""


# Every projection's rows in one view, with the field each is mostly read for as ``value``.
VALUE_COLUMNS = {
    "restriction_versions": ("restrictions", "status"),
    "aid_package_versions": ("aid_packages", "status"),
    "position_versions": ("positions", "stance"),
    "territory_versions": ("territory", "holder"),
}
ALL_VERSIONS_VIEW = "CREATE VIEW all_versions AS\n" + "\nUNION ALL\n".join(
    f"SELECT '{projection}' AS projection, entity, {value} AS value, valid_from, valid_to, known_from, known_to, "
    f"recorded_from, recorded_to, certainty, disputed, event_id, state FROM {table}"
    for table, (projection, value) in VALUE_COLUMNS.items()
)


def statements():
    for table, columns in TABLES.items():
        yield f"CREATE TABLE {table} ({COMMON}{columns}{TAIL})"
        # One entity's rows as recorded now and known now, in valid-time order: an index range scan.
        yield f"CREATE INDEX {table}_entity ON {table} (entity, recorded_to, known_to, valid_from)"
        # Every entity's rows as recorded now and known now, from a valid-time date down.
        yield f"CREATE INDEX {table}_as_of ON {table} (recorded_to, known_to, valid_from)"
        yield f"CREATE INDEX {table}_event ON {table} (event_id)"
        yield CURRENT_VIEW.format(name=table.removesuffix("_versions"))
    yield ALL_VERSIONS_VIEW


def migrate(db):
    for statement in statements():
        db.execute(statement)
