"""Reference data that events point at: actors, source documents and questions.

Registries live beside the events as ``actors.yaml``, ``documents.yaml`` and
``questions.yaml`` (each a list). Unlike events they are reference data: an
entry may be added or its label improved, so they are stored as a plain table,
not appended to the hash chain.
"""

from __future__ import annotations

import functools
from typing import Literal

from pydantic import Field, TypeAdapter

from ledger.events import Day, Model, Slug

REGISTRY_FILES = {"actors.yaml": "actor", "documents.yaml": "document", "questions.yaml": "question"}


class Actor(Model):
    id: Slug
    name: str = Field(min_length=1)
    role: str = Field(min_length=1, description="What the actor is, e.g. 'US Secretary of State'")
    type: Literal["person", "government", "organisation", "armed_force", "legislature", "media"] = "person"
    country: str | None = Field(None, description="ISO 3166 alpha-2/alpha-3 code or name")
    organisation: str | None = None


class Document(Model):
    id: Slug = Field(description="For the seed articles: the seed file's name")
    outlet: str = Field(min_length=1)
    published: Day
    published_note: str | None = Field(None, description="How sure the publication date is, when not printed")
    title: str | None = None
    url: str | None = None


class Question(Model):
    id: Slug
    text: str = Field(min_length=1, description="The question positions are taken on, as a yes/no question")


REGISTRY_MODELS = {"actor": Actor, "document": Document, "question": Question}


@functools.cache
def registry_adapter(kind: str) -> TypeAdapter:
    """The validator of a registry file's list of entries of this kind."""
    return TypeAdapter(list[REGISTRY_MODELS[kind]])  # type: ignore[valid-type]  # the model is chosen at run time


def registry_kind(filename: str) -> str | None:
    """The registry kind a file name holds, or None for an event file."""
    stem = filename.rsplit("/", 1)[-1]
    for name, kind in REGISTRY_FILES.items():
        base = name.rsplit(".", 1)[0]
        if stem in (name, base + ".yml", base + ".json"):
            return kind
    return None
