"""Canned responses for live chats (knowledge/geldern/canned_responses.yml), validated."""

from __future__ import annotations

from pathlib import Path
from typing import List

import yaml
from pydantic import BaseModel, Extra, ValidationError, constr, validator

from servicecenter.knowledge.loader import KnowledgeError, Problem

FILE = "canned_responses.yml"


class CannedResponse(BaseModel):
    id: constr(regex=r"^[a-z0-9_]{1,40}$")  # type: ignore[valid-type]
    title: constr(min_length=1, max_length=60)  # type: ignore[valid-type]
    text: constr(min_length=1, max_length=1000)  # type: ignore[valid-type]

    class Config:
        extra = Extra.forbid


class CannedFile(BaseModel):
    responses: List[CannedResponse]

    class Config:
        extra = Extra.forbid

    @validator("responses")
    def _unique(cls, value: List[CannedResponse]) -> List[CannedResponse]:  # noqa: N805
        ids = [r.id for r in value]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate id(s): {', '.join(duplicates)}")
        return value


def load_canned(directory: Path) -> List[CannedResponse]:
    """The canned responses; a missing file means none. Problems name the field."""
    path = directory / FILE
    if not path.exists():
        return []
    try:
        return CannedFile.parse_obj(yaml.safe_load(path.read_text(encoding="utf-8")) or {}).responses
    except yaml.YAMLError as err:
        raise KnowledgeError([Problem(FILE, "-", "-", f"not valid YAML: {err}")]) from err
    except ValidationError as err:
        raise KnowledgeError([
            Problem(FILE, "responses", ".".join(str(p) for p in e["loc"]), e["msg"]) for e in err.errors()
        ]) from err
