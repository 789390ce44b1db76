"""Each distinct state stored once, and the events lists as prefixes of a few stored lists.

Until now every version row carried its whole rendered state, and the state's
``events`` list names every event folded into it, so an entity's rows repeated
its history again and again (quadratic in its length), and rows that differ
only in their known or recorded range repeated the same state.

Now each projection has three parts:

- ``<name>_history``: the version rows, their time ranges and a reference to
  their state (``state_id``) and events list (``events_list``, ``events_end``);
- ``<name>_states``: each distinct state of an entity once, as JSON with an empty
  ``events`` list;
- ``event_lists``: an entity's events lists, each stored list holding several
  rows' lists as its prefixes; a row's list is the first ``events_end``
  characters of the stored one, closed by ``]``.

``<name>_versions`` stays, as a view with the columns it had: the state comes
back whole (``json_set`` of the list into its place) and the columns that were
copied from the state are read from it. The history rows keep the indexes the
versions tables had. Dropping the tracking row makes the next run rebuild
the read model from the store.
"""

TABLES = {
    # versions view: (history table, states table, columns read from the state)
    "restriction_versions": (
        "restriction_history",
        "restriction_states",
        (
            ("status", "$.status"), ("stage", "$.stage"), ("issuer", "$.issuer"), ("subject", "$.subject"),
            ("weapons", "[]$.weapons"), ("area", "$.area"), ("targets", "[]$.targets"), ("purpose", "$.purpose"),
            ("conditions", "[]$.conditions"),
        ),
    ),
    "aid_package_versions": (
        "aid_package_history",
        "aid_package_states",
        (
            ("status", "$.status"), ("donor", "$.donor"), ("recipient", "$.recipient"), ("authority", "$.authority"),
            ("tranche", "$.tranche"), ("announced", "$.announced"), ("value_amount", "$.value.amount"),
            ("value_currency", "$.value.currency"), ("value_qualifier", "$.value.qualifier"), ("items", "[]$.items"),
            ("measure", "$.measure"),
        ),
    ),
    "position_versions": (
        "position_history",
        "position_states",
        (("actor", "$.actor"), ("question", "$.question"), ("stance", "$.stance"), ("quote", "$.quote")),
    ),
    "territory_versions": (
        "territory_history",
        "territory_states",
        (
            ("holder", "$.holder"), ("size_value", "$.size.value"), ("size_unit", "$.size.unit"),
            ("claimed_by", "$.claimed_by"),
        ),
    ),
}  # fmt: skip

SINCE = (("since", "$.since"), ("since_text", "$.since_text"))

HISTORY = """
CREATE TABLE {history} (
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
    event_id TEXT NOT NULL,
    state_id INTEGER NOT NULL REFERENCES {states} (id),
    events_list INTEGER NOT NULL REFERENCES event_lists (id),
    events_end INTEGER NOT NULL
)
"""

STATES = "CREATE TABLE {states} (id INTEGER PRIMARY KEY, state TEXT NOT NULL)"

EVENT_LISTS = "CREATE TABLE event_lists (id INTEGER PRIMARY KEY, ids TEXT NOT NULL)"

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


def read(path):
    """The SQL reading one column from the state: ``[]$.x`` is a list, ``[]`` when missing."""
    if path.startswith("[]"):
        return f"coalesce(json_extract(s.state, '{path[2:]}'), '[]')"
    return f"json_extract(s.state, '{path}')"


def versions_view(view, history, states, fields):
    columns = ", ".join(f"{read(path)} AS {name}" for name, path in (*fields, *SINCE))
    return (
        f"CREATE VIEW {view} AS SELECT h.id, h.entity, h.valid_from, h.valid_to, h.known_from, h.known_to, "
        f"h.recorded_from, h.recorded_to, h.certainty, h.disputed, h.event_id, {columns}, "
        f"json_set(s.state, '$.events', json(substr(l.ids, 1, h.events_end) || ']')) AS state "
        f"FROM {history} h JOIN {states} s ON s.id = h.state_id JOIN event_lists l ON l.id = h.events_list"
    )


def migrate(db):
    db.execute("DROP VIEW IF EXISTS all_versions")
    db.execute(EVENT_LISTS)
    for view, (history, states, fields) in TABLES.items():
        name = view.removesuffix("_versions")
        db.execute(f"DROP VIEW IF EXISTS {name}_current")
        db.execute(f"DROP TABLE {view}")
        db.execute(STATES.format(states=states))
        db.execute(HISTORY.format(history=history, states=states))
        # One entity's rows as recorded now and known now, in valid-time order: an index range scan.
        db.execute(f"CREATE INDEX {history}_entity ON {history} (entity, recorded_to, known_to, valid_from)")
        # Every entity's rows holding on a date, as recorded and known now, answered inside the index
        # (with the references to their state and events list, so the row itself is never read).
        db.execute(
            f"CREATE INDEX {history}_as_of ON {history} "
            "(recorded_to, known_to, entity, valid_from, valid_to, state_id, events_list, events_end)"
        )
        db.execute(f"CREATE INDEX {history}_event ON {history} (event_id)")
        db.execute(versions_view(view, history, states, fields))
        db.execute(CURRENT_VIEW.format(name=name))
    db.execute(ALL_VERSIONS_VIEW)
    db.execute("DELETE FROM projector_state")
