"""The symlink API's request models: types, ranges and lengths are checked here (422 naming
the field); what the values mean (a folder under the media path, a deletable result...) is
checked by the service layer."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StrictBool, StrictInt

from toolkit.api import MAX_ID, Name, Note, PathText

from ..service.deletions import MAX_SELECTION
from ..service.problems import MAX_PAGE, MAX_PER_PAGE

StrictId = Annotated[StrictInt, Field(ge=1, le=MAX_ID)]
Paths = Annotated[list[PathText], Field(max_length=100)]
Word = Annotated[str, Field(max_length=40)]


class DirectoriesQuery(BaseModel):
    path: PathText = ""


class ScanStartBody(BaseModel):
    paths: Paths | None = None
    mode: Word | None = None
    verification_depth: Word | None = None
    depth: Word | None = None


class PageQuery(BaseModel):
    page: int = Field(1, ge=1, le=MAX_PAGE)
    per_page: int = Field(50, ge=1, le=MAX_PER_PAGE)


class ProblemsQuery(PageQuery):
    status: Annotated[str, Field(max_length=200)] | None = None
    ignored: Literal["exclude", "include", "only"] = "exclude"
    outcome: Word | None = None


class DeletionsQuery(PageQuery):
    state: Literal["deleted", "restored", "failed", "pending", "skipped", "all"] = "deleted"


class DeleteBody(BaseModel):
    all: StrictBool | None = None
    token: Annotated[str, Field(max_length=64)] | None = None
    ids: list[StrictId] | None = None
    override: StrictBool | None = None


class RestoreBody(BaseModel):
    journal_ids: Annotated[list[StrictId], Field(max_length=MAX_SELECTION)] | None = None
    scan_id: Annotated[str, Field(max_length=64)] | None = None


class IgnoreBody(BaseModel):
    problem_id: StrictId | None = None
    path: PathText | None = None
    note: Note | None = None


class ScheduleBody(BaseModel):
    name: Name | None = None
    original: Name | None = None
    frequency: Word | None = None
    time: Word | None = None
    weekday: Annotated[int, Field(ge=0, le=6)] | Word | None = None
    cron: Annotated[str, Field(max_length=200)] | None = None
    paths: Paths | Annotated[str, Field(max_length=100_000)] | None = None
    mode: Word | None = None
    verification_depth: Word | None = None
    depth: Word | None = None
    enabled: StrictBool | Word | None = None


class EnabledBody(BaseModel):
    enabled: Any = None  # only ``true`` enables


class ServicesBody(BaseModel):
    services: list[Literal["sonarr", "radarr"]] | None = None


class ApplyBody(BaseModel):
    container_id: Annotated[str, Field(min_length=1, max_length=128)]


def given(model: BaseModel) -> dict:
    """What the client sent, as the dict the functions behind the API take."""
    return model.model_dump(exclude_unset=True)
