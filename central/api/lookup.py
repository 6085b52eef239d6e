"""The two shapes every router repeats, written once: fetch a row by its key or answer 404, and
list rows with optional equality filters, newest first, up to a limit."""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import HTTPException
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

Row = TypeVar("Row")

#: what a 404 for a device adds, since callers often pass a bare device name
DEVICE_ID_HINT = "ids are 'site.device', e.g. urumqi.codec"


def get_or_404(session: Session, model: type[Row], key: Any, what: str, hint: str = "") -> Row:
    """The row of ``model`` with primary key ``key``, or a 404 "no <what> <key>" (with ``hint``
    in brackets when given)."""
    row = session.get(model, key)
    if row is None:
        raise HTTPException(404, f"no {what} {key!r}" + (f" ({hint})" if hint else ""))
    return row


def filtered(model: type[Row], *order_by: Any, limit: int | None = None,
             **equal: object) -> Select[tuple[Row]]:
    """``SELECT model ORDER BY order_by LIMIT limit`` with ``model.<column> == value`` for every
    ``column=value`` given a value: a filter left out (None or "") does not narrow the list."""
    query = select(model).order_by(*order_by)
    for column, value in equal.items():
        if value is not None and value != "":
            query = query.where(getattr(model, column) == value)
    if limit is not None:
        query = query.limit(limit)
    return query
