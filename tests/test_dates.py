"""EDTF dates parse to the earliest and latest days they allow, and a precision."""

from datetime import date

import pytest

from ledger.dates import OPEN_END, OPEN_START, DateError, parse_day, parse_edtf


@pytest.mark.parametrize(
    ("text", "earliest", "latest", "precision"),
    [
        ("2024-05-30", date(2024, 5, 30), date(2024, 5, 30), "day"),
        ("2024-05", date(2024, 5, 1), date(2024, 5, 31), "month"),
        ("2024-02", date(2024, 2, 1), date(2024, 2, 29), "month"),
        ("2024", date(2024, 1, 1), date(2024, 12, 31), "year"),
        ("2024-05-30~", date(2024, 5, 27), date(2024, 6, 2), "day"),
        ("2024-05~", date(2024, 4, 16), date(2024, 6, 15), "month"),
        ("2024-05-30?", date(2024, 5, 30), date(2024, 5, 30), "day"),
        ("2024-08-09/2024-08-23", date(2024, 8, 9), date(2024, 8, 23), "interval"),
        ("2024-05/2024-06", date(2024, 5, 1), date(2024, 6, 30), "interval"),
        ("../2024-05-31", OPEN_START, date(2024, 5, 31), "interval"),
        ("2024-05-01/..", date(2024, 5, 1), OPEN_END, "interval"),
        ("/2024-05-31", OPEN_START, date(2024, 5, 31), "interval"),
        ("[2024-08-09,2024-08-23]", date(2024, 8, 9), date(2024, 8, 23), "one_of"),
        ("[2024-08-09, 2024-08-16, 2024-08-23]", date(2024, 8, 9), date(2024, 8, 23), "one_of"),
        ("[..2024-05-31]", OPEN_START, date(2024, 5, 31), "one_of"),
    ],
)
def test_every_form_has_the_right_bounds(text, earliest, latest, precision):
    span = parse_edtf(text)
    assert (span.earliest, span.latest, span.precision) == (earliest, latest, precision)


def test_qualifiers_are_flagged():
    assert parse_edtf("2024-05-30~").approximate and not parse_edtf("2024-05-30~").uncertain
    assert parse_edtf("2024-05-30?").uncertain and not parse_edtf("2024-05-30?").approximate
    assert parse_edtf("2024-05-30%").approximate and parse_edtf("2024-05-30%").uncertain
    assert parse_edtf("2024-05-30").is_exact_day


def test_one_of_keeps_its_choices():
    assert parse_edtf("[2024-08-09,2024-08-23]").choices == (date(2024, 8, 9), date(2024, 8, 23))


def test_open_ends_are_reported_as_open():
    span = parse_edtf("../2024-05-31")
    assert span.open_start and not span.open_end
    assert span.to_dict()["earliest"] is None


@pytest.mark.parametrize(
    "text",
    [
        "2024-02-30",
        "2023-02-29",
        "2024-13",
        "yesterday-ish",
        "",
        "2024-05-30/2024-05-01",
        "../..",
        "{2024-05-01,2024-05-02}",
        "[]",
        "2024-5-3",
    ],
)
def test_impossible_or_malformed_dates_are_refused(text):
    with pytest.raises(DateError):
        parse_edtf(text)


def test_acled_precision():
    assert parse_edtf("2024-05-30").acled_time_precision == 1
    assert parse_edtf("2024-05-27/2024-05-31").acled_time_precision == 2
    assert parse_edtf("2024-05").acled_time_precision == 3


def test_query_dates_are_single_days():
    assert parse_day("2024-06-01") == date(2024, 6, 1)
    assert parse_day("2024-05") == date(2024, 5, 31)
    for bad in ("2024-02-30", "yesterday-ish", "2024-05-01/2024-05-03", "2024-05-30~"):
        with pytest.raises(DateError):
            parse_day(bad)
