"""Events, their sources and links, the registries, full-text search and the projector's tracking row.

The full-text indexes use the tables as external content; the projector fills
them with one INSERT ... SELECT per batch (much faster than a trigger per row).
"""

SCHEMA = """
CREATE TABLE projector_state (
    name TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    batch INTEGER,
    chain_hash TEXT,
    registry_mark TEXT,
    updated_at TEXT NOT NULL
);

CREATE TABLE actors (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    type TEXT NOT NULL,
    country TEXT,
    organisation TEXT
);

CREATE TABLE sources (
    id TEXT PRIMARY KEY,
    outlet TEXT NOT NULL,
    published TEXT NOT NULL,
    published_note TEXT,
    title TEXT,
    url TEXT
);

CREATE TABLE questions (
    id TEXT PRIMARY KEY,
    text TEXT NOT NULL
);

CREATE TABLE events (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    occurred TEXT NOT NULL,
    occurred_earliest TEXT,
    occurred_latest TEXT,
    occurred_precision TEXT NOT NULL,
    reported TEXT NOT NULL,
    position INTEGER NOT NULL UNIQUE,
    batch INTEGER NOT NULL,
    recorded_at TEXT NOT NULL,
    summary TEXT NOT NULL,
    quote TEXT,
    actors TEXT NOT NULL,
    tags TEXT NOT NULL,
    details TEXT NOT NULL
);
CREATE INDEX events_occurred ON events (occurred_earliest, occurred_latest);

CREATE TABLE event_sources (
    id INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL REFERENCES events (id),
    seq INTEGER NOT NULL,
    document TEXT REFERENCES sources (id),
    url TEXT,
    outlet TEXT NOT NULL,
    published TEXT NOT NULL,
    quote TEXT,
    attribution TEXT NOT NULL,
    speaker TEXT REFERENCES actors (id),
    count INTEGER,
    reliability TEXT,
    credibility INTEGER,
    UNIQUE (event_id, seq)
);
CREATE INDEX event_sources_document ON event_sources (document);
CREATE INDEX event_sources_speaker ON event_sources (speaker);

CREATE TABLE links (
    event_id TEXT NOT NULL REFERENCES events (id),
    relation TEXT NOT NULL,
    target_id TEXT NOT NULL REFERENCES events (id),
    PRIMARY KEY (event_id, relation, target_id)
);
CREATE INDEX links_target ON links (target_id, relation);

CREATE TABLE entity_events (
    projection TEXT NOT NULL,
    entity TEXT NOT NULL,
    position INTEGER NOT NULL,
    event_id TEXT NOT NULL REFERENCES events (id),
    role TEXT NOT NULL,
    PRIMARY KEY (projection, entity, position)
) WITHOUT ROWID;
CREATE INDEX entity_events_event ON entity_events (event_id);
CREATE INDEX entity_events_entity ON entity_events (entity);

CREATE VIRTUAL TABLE events_fts USING fts5 (
    summary, quote, content="events", tokenize='porter unicode61'
);
CREATE VIRTUAL TABLE event_sources_fts USING fts5 (
    quote, outlet, content="event_sources", tokenize='porter unicode61'
);
"""


def migrate(db):
    db.executescript(SCHEMA)
