"""`ledger chart`: how each restriction's status moved, drawn offline to SVG, PNG and self-contained HTML.

The SVG is read back as a structure: Vega names every mark it draws (its ``aria-label`` lists the
mark's fields), so a test can ask whether a bar exists for each restriction and a marker for each
status change. The expected changes come from the ledger itself, asked day by day."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta

import pytest
from click.testing import CliRunner

from helpers import corpus_store, replay
from ledger.cli import chart_spec, main
from ledger.events import RESTRICTION_STATUSES, STANCES
from ledger.store import open_store

WINDOW = ("2024-03-01", "2024-10-01")


@pytest.fixture(scope="module")
def corpus_db(tmp_path_factory):
    db = str(tmp_path_factory.mktemp("chart") / "ledger.db")
    corpus_store(db)
    return db


def run_chart(db, *args):
    result = CliRunner().invoke(main, ["chart", "--db", db, *args])
    assert result.exit_code == 0, result.output
    return result


def aria_labels(svg: str, role: str) -> list[dict[str, str]]:
    """The fields of every mark of one kind (``bar``, ``point``...) as Vega labels them in the SVG."""
    found = []
    for match in re.finditer(r'aria-label="([^"]*)" role="graphics-symbol" aria-roledescription="([^"]*)"', svg):
        if match.group(2) == role:
            pairs = (part.split(": ", 1) for part in html.unescape(match.group(1)).split("; "))
            found.append({key: value for key, value in (pair for pair in pairs if len(pair) == 2)})
    return found


def shown(day: str) -> str:
    """A day as Vega's labels print it: ``May 30, 2024``."""
    return date.fromisoformat(day).strftime("%b %d, %Y")


def status_changes_day_by_day(db, start, end, known_at=None):
    """Every (restriction, first day, new status) in [start, end), asking the ledger for every single day."""
    changes, statuses = set(), {}
    with open_store(db, create=False) as store:
        day = date.fromisoformat(start)
        while day.isoformat() < end:
            today = {s["id"]: s["status"] for s in replay(store, day.isoformat(), known_at)["restrictions"]}
            for restriction, status in today.items():
                if restriction in statuses and statuses[restriction] != status or restriction not in statuses and day.isoformat() != start:
                    changes.add((restriction, day.isoformat(), status))
            statuses |= today
            day += timedelta(days=1)
    return changes, set(statuses)


@pytest.mark.parametrize("known_at", [None, "2024-05-29"])
def test_the_svg_holds_a_bar_for_every_restriction_and_a_marker_for_every_status_change(corpus_db, tmp_path, known_at):
    out = tmp_path / "timeline.svg"
    args = ["-o", str(out), "--from", WINDOW[0], "--to", WINDOW[1], "--only", "restrictions"]
    run_chart(corpus_db, *args, *(["--known-at", known_at] if known_at else []))
    svg = out.read_text()
    expected_changes, restrictions = status_changes_day_by_day(corpus_db, *WINDOW, known_at)
    assert restrictions and (known_at or expected_changes)
    bars = {bar["label"] for bar in aria_labels(svg, "bar") if "status" in bar}
    assert bars == restrictions
    markers = {(m["label"], m["date"], m["status"]) for m in aria_labels(svg, "point") if m.get("change") == "changed"}
    assert markers == {(restriction, shown(day), status) for restriction, day, status in expected_changes}
    if known_at:  # the counter-fire guidance was reported on 2024-05-30: not drawn as known on 2024-05-29
        assert "counter-fire-guidance-takes-effect" not in svg


def test_the_corpus_chart_shows_the_kharkiv_opening_and_the_atacms_ban_that_stayed(corpus_db, tmp_path):
    out = tmp_path / "timeline.svg"
    run_chart(corpus_db, "-o", str(out))
    texts = [html.unescape(text) for text in re.findall(r"<text[^>]*>([^<]*)</text>", out.read_text())]
    assert "conditional from 2024-05-30 (counter-fire-guidance-takes-effect)" in texts
    assert "still prohibited on 2024-05-30 (atacms-ban-unchanged-by-kharkiv-guidance)" in texts
    assert any(text.startswith("conditional: only against attacks on the Kharkiv region") for text in texts)
    assert {"Status of each restriction", "Aid packages: stated value when their state changed"} <= set(texts)


def test_entity_ids_and_only_limit_what_is_drawn(corpus_db, tmp_path):
    out = tmp_path / "one.svg"
    run_chart(corpus_db, "-o", str(out), "us-weapons-strikes-inside-russia", "--from", "2024-05-01", "--to", "2024-06-15")
    svg = out.read_text()
    assert {bar["label"] for bar in aria_labels(svg, "bar")} == {"us-weapons-strikes-inside-russia"}
    assert "Aid packages" not in svg and "Positions" not in svg
    assert "X-axis for a utc scale with values from 01 May 2024 to 15 June 2024" in html.unescape(svg)


def test_png_and_self_contained_html(corpus_db, tmp_path):
    png, page = tmp_path / "timeline.png", tmp_path / "timeline.html"
    run_chart(corpus_db, "-o", str(png), "--only", "restrictions,aid")
    run_chart(corpus_db, "-o", str(page), "--only", "restrictions,aid")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(png.read_bytes()[16:20], "big")
    assert width > 1200
    text = page.read_text()
    assert "<script" in text and not re.search(r"<script[^>]*\bsrc=", text)
    assert not re.search(r"""(src|href)=["']https?://""", text)
    assert "counter-fire-guidance-takes-effect" in text


@pytest.mark.parametrize(
    "args, message",
    [
        (["-o", "chart.pdf"], "the extension says the format"),
        (["-o", "chart.svg", "--only", "weather"], "unknown panel weather"),
        (["-o", "chart.svg", "--from", "2024-06-01", "--to", "2024-05-01"], "is not before"),
        (["-o", "chart.svg", "no-such-entity"], "nothing to draw"),
    ],
)
def test_mistakes_get_a_one_line_answer(corpus_db, tmp_path, args, message):
    result = CliRunner().invoke(main, ["chart", "--db", corpus_db, *args])
    assert result.exit_code == 2 and message in result.output


# --- the drawing's data, without rendering ------------------------------------------------------------


def state(key, status, events, certainty="certain"):
    return {"id": key, "status": status, "certainty": certainty, "disputed": False, "events": events, "since_text": "", "conditions": []}


def test_bands_join_days_that_look_the_same_and_changes_name_the_event_that_made_them():
    samples = [
        ("2024-05-01", {"restrictions": [state("r", "prohibited", ["a"], "possible")]}),
        ("2024-05-10", {"restrictions": [state("r", "prohibited", ["a"])]}),
        ("2024-05-20", {"restrictions": [state("r", "prohibited", ["a", "b"])]}),
        ("2024-05-30", {"restrictions": [state("r", "conditional", ["a", "b", "c"]), state("s", "prohibited", ["d"])]}),
    ]
    data = chart_spec.build(samples, [], "2024-06-30", ["restrictions"], None)
    assert [(b["entity"], b["start"], b["end"], b["status"], b["certainty"]) for b in data.bands] == [
        ("r", "2024-05-01", "2024-05-10", "prohibited", "possible"),
        ("r", "2024-05-10", "2024-05-30", "prohibited", "certain"),
        ("r", "2024-05-30", "2024-06-30", "conditional", "certain"),
        ("s", "2024-05-30", "2024-06-30", "prohibited", "certain"),
    ]
    assert [(c["entity"], c["date"], c["change"], c["event"]) for c in data.changes] == [
        ("r", "2024-05-20", "unchanged", "b"),
        ("r", "2024-05-30", "changed", "c"),
        ("s", "2024-05-30", "changed", "d"),
    ]


def test_labels_that_would_collide_take_the_lane_above_and_late_ones_run_left():
    changes = [
        {"projection": "restrictions", "entity": "r", "date": "2024-05-30", "text": "x" * 60},
        {"projection": "restrictions", "entity": "r", "date": "2024-06-10", "text": "y" * 60},
        {"projection": "restrictions", "entity": "r", "date": "2024-09-25", "text": "z" * 30},
    ]
    placed = chart_spec.place_labels(changes, "2024-04-01", 183)
    assert [(p["align"], p["lane"]) for p in placed] == [("left", 0), ("left", 1), ("right", 0)]


def test_change_days_are_every_first_and_last_possible_day_and_the_day_after():
    timeline = [{"earliest": "2024-05-13", "latest": "2024-05-17"}, {"earliest": None, "latest": "2024-04-30"}]
    assert chart_spec.change_days(timeline, "2024-04-01", "2024-06-01") == [
        "2024-04-01", "2024-04-30", "2024-05-01", "2024-05-13", "2024-05-17", "2024-05-18",
    ]  # fmt: skip


def test_every_status_and_stance_has_its_colour_and_the_spec_is_valid_vega_lite():
    assert set(chart_spec.STATUS_COLOURS) == set(RESTRICTION_STATUSES)
    assert set(chart_spec.STANCE_COLOURS) == set(STANCES)
    samples = [("2024-05-01", {"restrictions": [state("r", "prohibited", ["a"])]})]
    spec = chart_spec.spec(chart_spec.build(samples, [], "2024-06-01", ["restrictions"], None), validate=True)
    assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/")


def test_money_reads_short():
    assert chart_spec.money({"amount": 125_000_000, "currency": "USD", "qualifier": "up_to"}) == "up to $125M"
    assert chart_spec.money({"amount": 60_000_000_000, "currency": "USD", "qualifier": "about"}) == "about $60B"
    assert chart_spec.money({"amount": None}) == ""
