"""What ``ledger chart`` draws, as data and as a Vega-Lite spec: pure functions, no ledger, no files.

The input is what the ledger answers: states on a series of days (``replay`` JSON, one per day on
which something can change) and the timeline's rows. From them come

- *bands*: an entity's state held unchanged from one day to the next sample where it changed
  (status, stance or holder, certainty, dispute), for the coloured bars;
- *changes*: the days on which an entity's tracked value changed, with the event that changed it;
- *event marks*: every event that bears on an entity, at its date (a range when the date is uncertain);
- *aid points*: each package's value on the days its state changed.

The spec is built with vega-altair and rendered elsewhere (vl-convert), so nothing here needs a browser.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from ledger.events import AID_STATUSES

Sample = tuple[str, dict[str, list[dict[str, Any]]]]
"""A day (ISO) and the ledger's state on it: projection name to its entity states, as ``replay`` gives them."""

PANELS = ("restrictions", "aid_packages", "positions", "territory")
VALUE_FIELD = {"restrictions": "status", "aid_packages": "status", "positions": "stance", "territory": "holder"}
STATUS_COLOURS = {"prohibited": "#c0392b", "conditional": "#e6a23c", "under_review": "#8e7cc3", "permitted": "#2e8b57"}
STANCE_COLOURS = {"supports": "#2e8b57", "mixed": "#e6a23c", "undecided": "#9e9e9e", "opposes": "#c0392b"}
FADED = 0.35
WIDTH = 860


@dataclass
class ChartData:
    """Everything the chart draws, as plain rows (Vega-Lite inline data)."""

    start: str
    end: str
    known_at: str | None
    panels: list[str]
    bands: list[dict[str, Any]] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    aid: list[dict[str, Any]] = field(default_factory=list)

    def of(self, rows: list[dict[str, Any]], projection: str) -> list[dict[str, Any]]:
        return [row for row in rows if row["projection"] == projection]


# --- which days to ask about -----------------------------------------------------------------


def day_after(day: str) -> str:
    return (date.fromisoformat(day) + timedelta(days=1)).isoformat()


def change_days(timeline: Iterable[dict[str, Any]], start: str, end: str) -> list[str]:
    """The days inside [start, end) on which some state can change: every event's first and last
    possible day and the day after (where a possible state becomes certain), plus ``start``."""
    days = {start}
    for row in timeline:
        for day in (row["earliest"], row["latest"], row["latest"] and day_after(row["latest"])):
            if day and start < day < end:
                days.add(day)
    return sorted(days)


def default_window(timeline: Sequence[dict[str, Any]], panels: Sequence[str], margin: int = 30) -> tuple[str, str]:
    """From a month before the first dated event of the first drawn panel that has any (restrictions
    first) to a month after the last event: an old statement does not squeeze the months that matter."""
    by_panel = [[row for row in timeline if (row["entity"] or "").split(":", 1)[0] == name] for name in panels]
    drawn = next((rows for rows in by_panel if rows), list(timeline))
    firsts = [row["earliest"] or row["latest"] for row in drawn if row["earliest"] or row["latest"]]
    lasts = [day for row in timeline for day in (row["latest"], row["earliest"], row["reported"]) if day]
    if not firsts or not lasts:
        today = date.today().isoformat()
        return today, day_after(today)
    first = date.fromisoformat(min(firsts)) - timedelta(days=margin)
    last = date.fromisoformat(max(lasts)) + timedelta(days=margin)
    return first.isoformat(), last.isoformat()


# --- from states to rows ----------------------------------------------------------------------


def entity_label(projection: str, state: dict[str, Any]) -> tuple[str, str]:
    """(group, label): positions are grouped by question and labelled by actor; others by their id."""
    if projection == "positions":
        return state["question"], state["actor"]
    return projection, state["id"]


def look(projection: str, state: dict[str, Any]) -> tuple[Any, ...]:
    """What a band shows: the tracked value, certainty and dispute (aid: its value too)."""
    shown = (state[VALUE_FIELD[projection]], state["certainty"], bool(state.get("disputed")))
    if projection == "aid_packages":
        return (*shown, money(state["value"]))
    return shown


def newest_event(before: dict[str, Any] | None, after: dict[str, Any]) -> str:
    """The event that brought ``after``: the last one folded in that ``before`` did not have."""
    had = set(before["events"]) if before else set()
    new = [event for event in after["events"] if event not in had]
    return (new or after["events"])[-1]


def build(
    samples: Sequence[Sample], timeline: Sequence[dict[str, Any]], end: str, panels: Sequence[str], known_at: str | None
) -> ChartData:
    """Bands, changes, event marks and aid points for ``panels`` from states sampled on change days."""
    data = ChartData(start=samples[0][0], end=end, known_at=known_at, panels=list(panels))
    for projection in panels:
        data.bands += bands(samples, end, projection)
        data.changes += changes(samples, projection)
    data.events = event_marks(timeline, data, known_at)
    data.aid = aid_points(data.of(data.bands, "aid_packages"))
    return data


def bands(samples: Sequence[Sample], end: str, projection: str) -> list[dict[str, Any]]:
    """One row per stretch of days over which an entity looked the same."""
    done: list[dict[str, Any]] = []
    current: dict[str, dict[str, Any]] = {}
    for day, state in samples:
        present = {item["id"]: item for item in state.get(projection) or []}
        for key in list(current):
            if key not in present or look(projection, present[key]) != current[key]["look"]:
                done.append(close(current.pop(key), day))
        for key, item in present.items():
            if key not in current:
                current[key] = band_row(projection, item, day)
    done += [close(row, end) for row in current.values()]
    return sorted(done, key=lambda row: (row["group"], row["label"], row["start"]))


def band_row(projection: str, state: dict[str, Any], day: str) -> dict[str, Any]:
    group, label = entity_label(projection, state)
    value = state[VALUE_FIELD[projection]]
    return {
        "projection": projection,
        "entity": state["id"],
        "group": group,
        "label": label,
        "start": day,
        VALUE_FIELD[projection]: value,
        "value": value,
        "certainty": state["certainty"],
        "disputed": bool(state.get("disputed")),
        "since": state.get("since_text") or "",
        "latest_event": state["events"][-1] if state["events"] else "",
        "amount": (state.get("value") or {}).get("amount"),
        "money": money(state["value"]) if projection == "aid_packages" else "",
        "conditions": "; ".join(state.get("conditions") or []),
        "look": look(projection, state),
    }


def close(row: dict[str, Any], day: str) -> dict[str, Any]:
    row = {key: value for key, value in row.items() if key != "look"}
    row["end"] = day
    row["mid"] = (date.fromisoformat(row["start"]) + (date.fromisoformat(day) - date.fromisoformat(row["start"])) / 2).isoformat()
    row["days"] = (date.fromisoformat(day) - date.fromisoformat(row["start"])).days
    return row


def changes(samples: Sequence[Sample], projection: str) -> list[dict[str, Any]]:
    """The days after the first sample on which an entity's tracked value changed (or it appeared)."""
    found: list[dict[str, Any]] = []
    field_name = VALUE_FIELD[projection]
    for (_, before), (day, after) in zip(samples, samples[1:]):
        old = {item["id"]: item for item in before.get(projection) or []}
        for item in after.get(projection) or []:
            previous = old.get(item["id"])
            value = item[field_name]
            if previous is not None and previous[field_name] == value:
                if set(item["events"]) <= set(previous["events"]):
                    continue  # only its certainty moved: the band fades in or out
                change, text = "unchanged", f"still {value} on {day}"
            else:
                change, text = "changed", f"{value} from {day}"
            group, label = entity_label(projection, item)
            event = newest_event(previous, item)
            found.append(
                {
                    "projection": projection,
                    "entity": item["id"],
                    "group": group,
                    "label": label,
                    "date": day,
                    "value": value,
                    field_name: value,
                    "before": previous[field_name] if previous else "",
                    "change": change,
                    "event": event,
                    "text": f"{text} ({event})",
                }
            )
    return found


def event_marks(timeline: Sequence[dict[str, Any]], data: ChartData, known_at: str | None) -> list[dict[str, Any]]:
    """A mark per event bearing on a drawn entity: at its last possible day, spanning its uncertain range."""
    labels = {(row["projection"], row["entity"]): (row["group"], row["label"]) for row in data.bands}
    marks = []
    for row in timeline:
        projection, _, entity = (row["entity"] or "").partition(":")
        if (projection, entity) not in labels or (known_at and row["reported"] > known_at):
            continue
        first = max(row["earliest"] or data.start, data.start)
        last = min(row["latest"] or data.end, data.end)
        if first > data.end or last < data.start:
            continue
        group, label = labels[(projection, entity)]
        marks.append(
            {"projection": projection, "entity": entity, "group": group, "label": label, "event": row["id"], "kind": row["kind"]}
            | {"occurred": row["occurred"], "reported": row["reported"], "from": first, "to": last, "summary": row["summary"]}
        )
    return marks


def aid_points(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each aid package's stated value on the first day of each status or value it had."""
    points: list[dict[str, Any]] = []
    seen: set[tuple[str, str, Any]] = set()
    for row in rows:
        key = (row["entity"], row["value"], row["amount"])
        if not row["amount"] or key in seen:
            continue
        seen.add(key)
        points.append(
            {
                "package": row["entity"],
                "date": row["start"],
                "amount": row["amount"],
                "status": row["value"],
                "money": row["money"],
                "certainty": row["certainty"],
                "text": f"{row['entity']}: {row['money']} {row['value']}",
                "above": len(points) % 2 == 0,
            }
        )
    return points


HEDGES = {"up_to": "up to ", "about": "about ", "nearly": "nearly ", "at_least": "at least "}


def money(value: dict[str, Any] | None) -> str:
    """``up to $125M``, ``about $60B``: an aid value short enough for a label."""
    if not value or value.get("amount") is None:
        return ""
    amount = float(value["amount"])
    short = next((f"{amount / size:g}{unit}" for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")) if amount >= size), f"{amount:g}")
    currency = value.get("currency") or ""
    shown = f"${short}" if currency in ("USD", "") else f"{short} {currency}"
    return HEDGES.get(value.get("qualifier") or "", "") + shown


# --- the Vega-Lite spec -------------------------------------------------------------------------


def spec(data: ChartData, title: str = "How the restrictions moved", validate: bool = False) -> dict[str, Any]:
    """The whole chart: a panel per drawn projection, one time axis (valid time) across all of them."""
    import altair as alt

    x_scale = alt.Scale(type="utc", domain=[data.start, data.end])
    panels: list[Any] = []
    if "restrictions" in data.panels and data.of(data.bands, "restrictions"):
        panels.append(band_panel(alt, data, "restrictions", x_scale, STATUS_COLOURS, "status of each restriction"))
    if "aid_packages" in data.panels and data.aid:
        panels.append(aid_panel(alt, data, x_scale))
    if "positions" in data.panels and data.of(data.bands, "positions"):
        panels += position_panels(alt, data, x_scale)
    if "territory" in data.panels and data.of(data.bands, "territory"):
        panels.append(band_panel(alt, data, "territory", x_scale, None, "who holds each area"))
    if not panels:
        panels.append(alt.Chart(alt.Data(values=[{"text": "nothing to draw in this window"}])).mark_text().encode(text="text:N"))
    known = f"as known on {data.known_at}" if data.known_at else "on everything reported"
    subtitle = [
        f"Valid time {data.start} to {data.end}, {known}. Each bar is one entity's state, coloured by its status or stance,",
        "faded where it is only possible (an event's uncertain date may not have come yet).",
        "▼ marks a change, labelled with the new value, its first day and the event that made it; ● an event that left it as it was.",
        "Grey ticks below a bar: every event bearing on it, at its last possible day (a line: the days its uncertain date allows).",
    ]
    chart = alt.vconcat(*panels, spacing=22).resolve_scale(color="independent", opacity="independent", shape="independent")
    chart = chart.properties(title=alt.TitleParams(title, subtitle=subtitle, anchor="start", fontSize=18, subtitleFontSize=11))
    return chart.configure_view(stroke=None).configure_axis(labelFontSize=11, titleFontSize=11).to_dict(validate=validate)


def x_axis(alt: Any, x_scale: Any, show: bool = True) -> Any:
    return alt.X("start:T", scale=x_scale, title=None, axis=alt.Axis(format="%d %b %Y", labelAngle=0, grid=True) if show else None)


def band_panel(alt: Any, data: ChartData, projection: str, x_scale: Any, colours: dict[str, str] | None, name: str) -> Any:
    """Bars per entity over valid time, with change markers and their labels, and event ticks below."""
    field_name = VALUE_FIELD[projection]
    rows = data.of(data.bands, projection)
    order = sorted({row["label"] for row in rows})
    step = 58
    y = alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=300, labelFontSize=12, labelFontWeight="bold"))
    colour_scale = alt.Scale(domain=list(colours), range=list(colours.values())) if colours else alt.Scale(scheme="tableau10")
    colour = alt.Color(f"{field_name}:N", scale=colour_scale, legend=alt.Legend(title=field_name, orient="right"))
    opacity = alt.Opacity(
        "certainty:N",
        scale=alt.Scale(domain=["certain", "possible"], range=[1, FADED]),
        legend=alt.Legend(title="certainty", orient="right"),
    )
    tooltip = ["label:N", f"{field_name}:N", "since:N", "certainty:N", "disputed:N", "latest_event:N", "start:T", "end:T"]
    base = alt.Chart(alt.Data(values=rows))
    bars = base.mark_bar(height=18, cornerRadius=2).encode(
        x=x_axis(alt, x_scale), x2="end:T", y=y, color=colour, opacity=opacity, tooltip=tooltip
    )
    span = (date.fromisoformat(data.end) - date.fromisoformat(data.start)).days or 1
    # inside each bar wide enough: its value and conditions, cut to the bar's width
    px_per_day = WIDTH / span
    inside = base.transform_filter(f"datum.days >= {max(12 / px_per_day * 6, 1):.0f}").transform_calculate(
        words=f"datum.{field_name} + (datum.conditions ? ': ' + datum.conditions : '')", room=f"datum.days * {px_per_day:.4f} - 10"
    )
    inside = inside.mark_text(color="white", fontSize=11, fontWeight="bold", align="left", dx=5, limit=alt.ExprRef("datum.room"))
    words = inside.encode(x=alt.X("start:T", scale=x_scale), y=y, text="words:N")
    layers = [bars, words]
    moves = place_labels(data.of(data.changes, projection), data.start, span)
    if moves:
        changed = alt.Chart(alt.Data(values=moves))
        marker = changed.mark_point(size=150, filled=True, stroke="black", strokeWidth=1, yOffset=-14)
        shape = alt.Shape(
            "change:N",
            scale=alt.Scale(domain=["changed", "unchanged"], range=["triangle-down", "circle"]),
            legend=alt.Legend(title="marker", labelExpr="datum.label == 'changed' ? '▼ changed' : '● event, no change'"),
        )
        tooltip = ["label:N", "date:T", "before:N", f"{field_name}:N", "change:N", "event:N"]
        layers.append(marker.encode(x=alt.X("date:T", scale=x_scale), y=y, color=colour, shape=shape, tooltip=tooltip))
        for align, dx in (("left", 7), ("right", -9)):
            for lane in (0, 1):
                label = changed.transform_filter(f"datum.align == '{align}' && datum.lane == {lane}")
                label = label.mark_text(align=align, dx=dx, yOffset=-15 - 13 * lane, fontSize=10, color="#222")
                layers.append(label.encode(x=alt.X("date:T", scale=x_scale), y=y, text="text:N"))
    marks = data.of(data.events, projection)
    if marks:
        ticks = alt.Chart(alt.Data(values=marks))
        tooltip = ["event:N", "kind:N", "occurred:N", "reported:N", "summary:N"]
        layers.append(
            ticks.mark_rule(color="#555", strokeWidth=1.5, yOffset=14).encode(
                x=alt.X("from:T", scale=x_scale), x2="to:T", y=y, tooltip=tooltip
            )
        )
        layers.append(
            ticks.mark_tick(color="#333", thickness=2, size=9, yOffset=14).encode(x=alt.X("to:T", scale=x_scale), y=y, tooltip=tooltip)
        )
    title = alt.TitleParams(name.capitalize(), anchor="start", fontSize=14)
    return alt.layer(*layers).properties(width=WIDTH, height=alt.Step(step), title=title)


def place_labels(changes: list[dict[str, Any]], start: str, span: int, char_px: float = 5.8) -> list[dict[str, Any]]:
    """Where each change's label goes: right of its marker unless it would run off the chart, and in
    the lane above when it would run into an earlier label of the same entity."""
    px_per_day = WIDTH / span
    placed: list[dict[str, Any]] = []
    taken: dict[tuple[str, str, int], float] = {}  # (projection, entity, lane) -> right edge in pixels
    for change in sorted(changes, key=lambda row: (row["entity"], row["date"])):
        x = (date.fromisoformat(change["date"]) - date.fromisoformat(start)).days * px_per_day
        width = len(change["text"]) * char_px + 10
        left, right, align = (x, x + width, "left") if x + width <= WIDTH else (x - width, x, "right")
        lane = next((n for n in (0, 1) if taken.get((change["projection"], change["entity"], n), -1e9) < left), 1)
        taken[(change["projection"], change["entity"], lane)] = right
        placed.append(change | {"align": align, "lane": lane})
    return placed


def aid_panel(alt: Any, data: ChartData, x_scale: Any) -> Any:
    """Each package's stated value on the days its state changed (log scale: $125M beside $60B)."""
    base = alt.Chart(alt.Data(values=data.aid))
    x = alt.X("date:T", scale=x_scale, title=None, axis=alt.Axis(format="%d %b %Y", labelAngle=0))
    amounts = [point["amount"] for point in data.aid]
    domain = [min(amounts) / 4, max(amounts) * 4]
    powers = [10.0**n for n in range(1, 16) if domain[0] <= 10.0**n <= domain[1]]
    axis = alt.Axis(format="$~s", values=powers or None)
    y = alt.Y("amount:Q", scale=alt.Scale(type="log", domain=domain, nice=False), title="value (USD, log scale)", axis=axis)
    colour = alt.Color("status:N", scale=alt.Scale(domain=list(AID_STATUSES), scheme="viridis"), legend=alt.Legend(title="aid status"))
    lines = base.mark_line(color="#999", strokeDash=[3, 3]).encode(x=x, y=y, detail="package:N")
    tooltip = ["package:N", "date:T", "status:N", "money:N", "certainty:N"]
    points = base.mark_point(filled=True, size=110).encode(x=x, y=y, color=colour, tooltip=tooltip)
    above = base.transform_filter("datum.above").mark_text(align="left", dx=6, dy=-10, fontSize=10).encode(x=x, y=y, text="text:N")
    below = base.transform_filter("!datum.above").mark_text(align="left", dx=6, dy=11, fontSize=10).encode(x=x, y=y, text="text:N")
    title = alt.TitleParams("Aid packages: stated value when their state changed", anchor="start", fontSize=14)
    return alt.layer(lines, points, above, below).properties(width=WIDTH, height=130, title=title)


def position_panels(alt: Any, data: ChartData, x_scale: Any) -> list[Any]:
    """Each actor's stance on each question over time: a row of bars per question."""
    rows = data.of(data.bands, "positions")
    colour = alt.Color(
        "stance:N",
        scale=alt.Scale(domain=list(STANCE_COLOURS), range=list(STANCE_COLOURS.values())),
        legend=alt.Legend(title="stance", orient="right"),
    )
    opacity = alt.Opacity("certainty:N", scale=alt.Scale(domain=["certain", "possible"], range=[1, FADED]), legend=None)
    tooltip = ["group:N", "label:N", "stance:N", "since:N", "certainty:N", "latest_event:N"]
    bars = (
        alt.Chart()
        .mark_bar(height=10)
        .encode(
            x=x_axis(alt, x_scale),
            x2="end:T",
            y=alt.Y("label:N", title=None, axis=alt.Axis(labelLimit=200)),
            color=colour,
            opacity=opacity,
            tooltip=tooltip,
        )
        .properties(width=WIDTH, height=alt.Step(13))
    )
    header = alt.Header(labelAngle=0, labelAlign="left", labelAnchor="start", labelOrient="top", labelFontWeight="bold", title=None)
    panel = alt.FacetChart(data=alt.Data(values=rows), spec=bars, facet=alt.Facet("group:N", header=header), columns=1, spacing=12)
    title = alt.TitleParams("Positions: each actor's stance on each question", anchor="start", fontSize=14)
    return [panel.resolve_scale(y="independent").properties(title=title)]
