"""Helpers the record routes share: record errors as HTTP errors, and the page model."""

from __future__ import annotations

from typing import Generic, TypeVar

from fastapi import HTTPException
from pydantic import BaseModel

from storage.records.common import NotFound, OutOfScope, RecordError, WorkflowError

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    data: list[T]
    count: int
    limit: int
    offset: int


def http_error(exc: RecordError, *, field: str | None = None) -> HTTPException:
    """404 not found (or outside the scope), 403 a filter outside the scope, 409 a workflow rule, 422
    anything else, naming `field` (a body field) when given."""
    if isinstance(exc, NotFound):
        return HTTPException(status_code=404, detail=str(exc))
    if isinstance(exc, OutOfScope):
        return HTTPException(status_code=403, detail=str(exc))
    if isinstance(exc, WorkflowError):
        return HTTPException(status_code=409, detail=str(exc))
    if field is not None:
        return HTTPException(status_code=422, detail=[{"loc": ["body", field], "msg": str(exc),
                                                       "type": "value_error"}])
    return HTTPException(status_code=422, detail=str(exc))
