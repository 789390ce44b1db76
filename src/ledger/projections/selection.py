"""What a question names: which projections (``--only``), which entity, which dates.

Shared by both engines that answer questions (the fold over stored events and the
read model), so that both read a question the same way and fail the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from functools import lru_cache

from ledger.dates import parse_day

PROJECTION_NAMES = ("restrictions", "aid_packages", "positions", "territory")
ONLY_NAMES = {
    "restrictions": "restrictions",
    "aid": "aid_packages",
    "aid_packages": "aid_packages",
    "packages": "aid_packages",
    "positions": "positions",
    "territory": "territory",
}


class UnknownEntity(LookupError):
    """No restriction, package, position or territory has this id; the message suggests close ones."""

    def __init__(self, entity: str, suggestions: Sequence[str] = ()) -> None:
        self.entity, self.suggestions = entity, list(suggestions)
        super().__init__(entity)

    def __str__(self) -> str:
        hint = f"; did you mean {', '.join(self.suggestions)}?" if self.suggestions else "; see 'ledger timeline' for ids"
        return f"no restriction, aid package, position or territory with id {self.entity!r}{hint}"


class UnknownProjection(ValueError):
    """``only`` named a projection that does not exist."""


def optional_day(value: str | date | None) -> date | None:
    """A query date from text or a date; None and "" stay None. Raises DateError for impossible dates."""
    if value is None or value == "":
        return None
    return value if isinstance(value, date) else query_day(value)


def required_day(value: str | date) -> date:
    """A query date that must be given."""
    return value if isinstance(value, date) else query_day(value)


@lru_cache(maxsize=4096)
def query_day(text: str) -> date:
    """:func:`~ledger.dates.parse_day`, kept for the dates asked again (a server asks about the same days): a lookup is a tenth of a parse."""
    return parse_day(text)


def projection_names(only: str | Iterable[str] | None) -> list[str]:
    """Projection names from ``only`` (``restrictions,aid,positions,territory``, a list, or None for all)."""
    if only is None:
        return list(PROJECTION_NAMES)
    names = [part.strip() for part in (only.split(",") if isinstance(only, str) else only) if part.strip()]
    unknown = [name for name in names if name not in ONLY_NAMES]
    if unknown:
        raise UnknownProjection(f"unknown projection {unknown[0]!r}; choose from restrictions, aid, positions, territory")
    chosen = {ONLY_NAMES[name] for name in names}
    return [name for name in PROJECTION_NAMES if name in chosen]


def split_entity(entity: str) -> tuple[str | None, str]:
    """``projection:ID`` into (projection, ID); a bare ID (positions are ``actor:question``) into (None, ID)."""
    head, _, rest = entity.partition(":")
    if head in PROJECTION_NAMES and rest:
        return head, rest
    return None, entity


def close_names(entity: str, names: Iterable[str]) -> list[str]:
    """Up to three entity ids that look like ``entity``, for a "did you mean" hint."""
    import difflib

    names = list(names)
    close = difflib.get_close_matches(entity, names, n=3, cutoff=0.5)
    close += [name for name in names if entity.casefold() in name.casefold() and name not in close]
    return close[:3]
