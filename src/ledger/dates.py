"""Dates as news reports give them: EDTF (ISO 8601-2) strings parsed to bounds.

The ledger keeps the EDTF text a curator wrote *and* the earliest and latest
calendar days it allows, computed here rather than by a general EDTF library,
because the bounds drive every as-of answer and must be narrow and predictable:

=========================  ===========================  ==========
text                       earliest .. latest           precision
=========================  ===========================  ==========
``2024-05-30``             2024-05-30 .. 2024-05-30     day
``2024-05``                2024-05-01 .. 2024-05-31     month
``2024``                   2024-01-01 .. 2024-12-31     year
``2024-05-30~``            2024-05-27 .. 2024-06-02     day (approximate: +/- 3 days)
``2024-05~``               2024-04-16 .. 2024-06-15     month (approximate: +/- 15 days)
``2024-05-30?``            2024-05-30 .. 2024-05-30     day (uncertain: flagged, same bounds)
``2024-08-09/2024-08-23``  2024-08-09 .. 2024-08-23     interval
``../2024-05-31``          open .. 2024-05-31           interval (open start)
``2024-05-01/..``          2024-05-01 .. open           interval (open end)
``[2024-08-09,2024-08-23]``2024-08-09 .. 2024-08-23     one_of (one of the listed dates)
=========================  ===========================  ==========

Open ends are represented by :data:`OPEN_START` and :data:`OPEN_END` so that
bounds always compare as dates.

Any text parses to a span or raises :class:`DateError`, never another error: an
approximate date whose widening runs off the calendar (``9999~``) and an
interval whose start is after its end are refused. Dates an *event* records are
held to a narrower calendar, :data:`FIRST_DAY` to :data:`LAST_DAY`
(:func:`recordable_span`, :func:`parse_iso_day`), so that no recorded date is
mistaken for an open end and every date the projections compute stays a date.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache

OPEN_START = date(1, 1, 1)
OPEN_END = date(9999, 12, 31)

APPROXIMATE_DAY_PAD = timedelta(days=3)
APPROXIMATE_MONTH_PAD = timedelta(days=15)
APPROXIMATE_YEAR_PAD = timedelta(days=90)

FIRST_DAY = date(1000, 1, 1)
LAST_DAY = date(9998, 12, 31)
"""The first and last days an event may record, after widening: years 1000 to 9998."""

PRECISIONS = ("day", "month", "year", "interval", "one_of")

_YEAR = re.compile(r"\d{4,}")
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SINGLE = re.compile(r"^(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2}))?)?(?P<qualifier>[~?%])?$")


class DateError(ValueError):
    """A date text that is not a valid EDTF date of the forms the ledger accepts."""


@dataclass(frozen=True)
class DateSpan:
    """A parsed EDTF date: the text, its earliest and latest days, and how precise it is."""

    text: str
    earliest: date
    latest: date
    precision: str
    approximate: bool = False
    uncertain: bool = False
    choices: tuple[date, ...] = field(default=())

    @property
    def open_start(self) -> bool:
        return self.earliest == OPEN_START

    @property
    def open_end(self) -> bool:
        return self.latest == OPEN_END

    @property
    def is_exact_day(self) -> bool:
        """True when the text names one calendar day with no qualifier."""
        return self.earliest == self.latest and not (self.approximate or self.uncertain)

    @property
    def acled_time_precision(self) -> int:
        """ACLED's time_precision: 1 a day, 2 a week or similar period, 3 a month or longer."""
        width = (self.latest - self.earliest).days
        if width == 0:
            return 1
        if width <= 7:
            return 2
        return 3

    def contains(self, day: date) -> bool:
        return self.earliest <= day <= self.latest

    def to_dict(self) -> dict:
        return {
            "text": self.text,
            "earliest": None if self.open_start else self.earliest.isoformat(),
            "latest": None if self.open_end else self.latest.isoformat(),
            "precision": self.precision,
            "approximate": self.approximate,
            "uncertain": self.uncertain,
        }


def _calendar_day(year: int, month: int, day: int, text: str) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise DateError(f"{text!r} is not a calendar date ({year:04d}-{month:02d}-{day:02d} does not exist)") from None


def _parse_single(text: str, whole: str) -> DateSpan:
    match = _SINGLE.match(text)
    if not match:
        raise DateError(
            f"{whole!r} is not an EDTF date: expected forms like 2024-05-30, 2024-05, 2024-05-30~, "
            "2024-05-30?, 2024-08-09/2024-08-23, ../2024-05-31 or [2024-08-09,2024-08-23]"
        )
    year = int(match["year"])
    qualifier = match["qualifier"] or ""
    approximate = qualifier in ("~", "%")
    uncertain = qualifier in ("?", "%")
    if match["day"]:
        earliest = latest = _calendar_day(year, int(match["month"]), int(match["day"]), whole)
        precision, pad = "day", APPROXIMATE_DAY_PAD
    elif match["month"]:
        month = int(match["month"])
        if not 1 <= month <= 12:
            raise DateError(f"{whole!r} is not a calendar date (month {month:02d} does not exist)")
        if year == 0:
            raise DateError(f"{whole!r} is not a calendar date (year 0000)")
        earliest = date(year, month, 1)
        latest = date(year, month, calendar.monthrange(year, month)[1])
        precision, pad = "month", APPROXIMATE_MONTH_PAD
    else:
        if year == 0:
            raise DateError(f"{whole!r} is not a calendar date (year 0000)")
        earliest, latest = date(year, 1, 1), date(year, 12, 31)
        precision, pad = "year", APPROXIMATE_YEAR_PAD
    if approximate:
        earliest, latest = _widened(earliest, latest, pad, whole)
    return DateSpan(whole, earliest, latest, precision, approximate, uncertain)


def _widened(earliest: date, latest: date, pad: timedelta, whole: str) -> tuple[date, date]:
    try:
        return earliest - pad, latest + pad
    except OverflowError:
        raise DateError(
            f"{whole!r} is approximate (+/- {pad.days} days), which runs past the calendar ({OPEN_START} to {OPEN_END})"
        ) from None


def _parse_interval(text: str) -> DateSpan:
    start_text, _, end_text = text.partition("/")
    start = None if start_text in ("", "..") else _parse_single(start_text, text)
    end = None if end_text in ("", "..") else _parse_single(end_text, text)
    if start is None and end is None:
        raise DateError(f"{text!r} is an interval with neither a start nor an end")
    earliest = start.earliest if start else OPEN_START
    latest = end.latest if end else OPEN_END
    if earliest > latest:
        raise DateError(f"{text!r} is an interval that ends before it starts")
    return DateSpan(
        text,
        earliest,
        latest,
        "interval",
        approximate=any(part and part.approximate for part in (start, end)),
        uncertain=any(part and part.uncertain for part in (start, end)),
    )


def _parse_one_of(text: str) -> DateSpan:
    inner = text[1:-1].strip()
    if not inner:
        raise DateError(f"{text!r} lists no dates")
    spans: list[DateSpan] = []
    for item in (part.strip() for part in inner.split(",")):
        if ".." in item:
            low, _, high = item.partition("..")
            low_span = _parse_single(low, text) if low else None
            high_span = _parse_single(high, text) if high else None
            if low_span is None and high_span is None:
                raise DateError(f"{text!r} lists a range with neither a start nor an end")
            if low_span and high_span and low_span.earliest > high_span.latest:
                raise DateError(f"{text!r} lists a range that ends before it starts ({item})")
            spans.append(
                DateSpan(
                    item,
                    low_span.earliest if low_span else OPEN_START,
                    high_span.latest if high_span else OPEN_END,
                    "interval",
                )
            )
        else:
            spans.append(_parse_single(item, text))
    choices = tuple(sorted(span.earliest for span in spans if span.earliest == span.latest))
    return DateSpan(
        text,
        min(span.earliest for span in spans),
        max(span.latest for span in spans),
        "one_of",
        approximate=any(span.approximate for span in spans),
        uncertain=True,
        choices=choices,
    )


@lru_cache(maxsize=65536)
def parse_edtf(text: str) -> DateSpan:
    """Parse an EDTF date text to a :class:`DateSpan`; raise :class:`DateError` if it is not one."""
    if not isinstance(text, str):
        raise DateError(f"{text!r} is not a date text")
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        return _parse_one_of(text)
    if text.startswith("{"):
        raise DateError(f"{text!r}: 'all of' sets are not accepted; record one event per date")
    if "/" in text:
        return _parse_interval(text)
    return _parse_single(text, text)


def recordable_span(text: str) -> DateSpan:
    """Parse a date an event records: :func:`parse_edtf`, with every day within :data:`FIRST_DAY` .. :data:`LAST_DAY`.

    Open ends (``..``) stay open; widening an approximate date must not leave the range either.
    """
    span = parse_edtf(text)
    for year in _YEAR.findall(span.text):
        if not FIRST_DAY.year <= int(year) <= LAST_DAY.year:
            raise DateError(f"{span.text!r}: the ledger records years {FIRST_DAY.year} to {LAST_DAY.year}")
    if (not span.open_start and span.earliest < FIRST_DAY) or (not span.open_end and span.latest > LAST_DAY):
        raise DateError(f"{span.text!r} is approximate and, widened, runs past the dates the ledger records ({FIRST_DAY} to {LAST_DAY})")
    return span


def parse_iso_day(value: object) -> date:
    """A calendar day an event records (``reported``, ``published``...): ``YYYY-MM-DD`` text or a date, within the ledger's range.

    Numbers and other forms are refused, not read as Unix timestamps (``'0'`` is not 1970-01-01).
    """
    if isinstance(value, datetime):  # a moment, not a day: which day it falls on depends on a time zone
        raise DateError(f"{value.isoformat()!r} is a moment, not a day: give YYYY-MM-DD")
    if isinstance(value, date):
        day = value
    elif isinstance(value, str) and _ISO_DAY.match(value.strip()):
        try:
            day = date.fromisoformat(value.strip())
        except ValueError:
            raise DateError(f"{value.strip()!r} is not a calendar date") from None
    else:
        raise DateError(f"{value!r} is not a date: give YYYY-MM-DD")
    if not FIRST_DAY <= day <= LAST_DAY:
        raise DateError(f"{day.isoformat()!r}: the ledger records dates from {FIRST_DAY} to {LAST_DAY}")
    return day


def parse_day(text: str) -> date:
    """Parse a query date (``YYYY-MM-DD``, or ``YYYY-MM`` / ``YYYY`` meaning its last day).

    Query dates are points: "as of 2024-05" means as of the end of May 2024.
    """
    if isinstance(text, date):
        return text
    span = parse_edtf(str(text))
    if span.precision not in ("day", "month", "year") or span.approximate or span.uncertain:
        raise DateError(f"{text!r} is not a single date; give YYYY-MM-DD")
    return span.latest
