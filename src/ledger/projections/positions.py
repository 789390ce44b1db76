"""Positions: an actor's stance on a question, from ``statement`` events that take one.

One entity per ``actor:question``, the actor being the statement's speaker.
The quote carried is the statement's own, else the first source quote.
"""

from __future__ import annotations

from typing import Any

from ledger.projections.base import EntityView, Projection, common_fields, since_fields


def position_key(data: dict[str, Any]) -> str | None:
    """``speaker:question`` for a statement that takes a stance."""
    if data.get("kind") != "statement" or not data.get("position"):
        return None
    return f"{data['speaker']}:{data['position']['question']}"


def statement_quote(data: dict[str, Any]) -> str | None:
    """The statement's quote, else the first quote of a source naming the speaker, else any quote."""
    if data.get("quote"):
        return data["quote"]
    sources = data.get("sources", [])
    by_speaker = [s["quote"] for s in sources if s.get("quote") and s.get("speaker") == data.get("speaker")]
    anyone = [s["quote"] for s in sources if s.get("quote")]
    return (by_speaker or anyone or [None])[0]


def position_effect(data: dict[str, Any]) -> dict[str, Any]:
    """The stance taken, and the words it was taken in."""
    effect = {"stance": data["position"]["stance"]}
    quote = statement_quote(data)
    if quote:
        effect["quote"] = quote
    return effect


def render_position(view: EntityView) -> dict[str, Any]:
    """A position as the replay JSON gives it."""
    actor, _, question = view.key.partition(":")
    return {
        "id": view.key,
        "actor": actor,
        "question": question,
        "stance": view.fields.get("stance"),
        **since_fields(view),
        "quote": view.fields.get("quote"),
        **common_fields(view),
    }


POSITIONS = Projection(
    name="positions",
    key=position_key,
    effect=position_effect,
    render=render_position,
    tracked="stance",
    decided={"stance": "stance"},
)
