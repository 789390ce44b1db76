"""States rendered with certainty from the readings of uncertain dates, and their alternatives.

Every version row's ``state`` now carries ``certainty`` computed from the
readings of its events' dates and ``alternatives``, and open starts are read at
the one day they name, so rows rendered before are out of date. Dropping the
tracking row leaves the read model at position 0, which the next
``ledger project`` (or ingest, or a query catching the read model up) rebuilds
from the store, entity by entity. The schema itself is unchanged.
"""


def migrate(db):
    db.execute("DELETE FROM projector_state")
