"""Uplink measurements (rtt, loss, bandwidth) per site, from events and self-tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from central.models import UplinkMeasurement

FIELDS = ("rtt_ms", "loss", "up_mbps", "down_mbps")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def store(session: Session, site_id: str, data: dict[str, Any], *, at: datetime, source: str) -> None:
    values = {name: _number(data.get(name)) for name in FIELDS}
    if all(v is None for v in values.values()):
        return
    session.add(UplinkMeasurement(site_id=site_id, at=at, source=source, **values))
