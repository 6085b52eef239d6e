"""The report policy: retention, satisfaction target, inspection due dates, the HD uplink need.

Defaults live here; an admin may change any value (stored in ``report_settings``).
"""

from __future__ import annotations

from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from central.models import utcnow
from central.reports.models import ReportSetting


class ReportPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: Archived recordings older than this many days are purged (file deleted, row kept).
    retention_days: int = Field(365, ge=1, le=36500)
    #: Share of ratings 4-5 the service aims for.
    satisfaction_target: float = Field(0.85, ge=0.0, le=1.0)
    #: The monthly inspection is due on this day of the month (the agent's ``inspection_day``) ...
    inspection_day: int = Field(1, ge=1, le=28)
    #: ... and counts as on time when it ran within this many days of that day.
    inspection_grace_days: int = Field(7, ge=0, le=27)
    #: Upload bandwidth a site needs for an HD call; measurements below it argue for a line upgrade.
    #: A planning figure, not a protocol fact: set it to what the codecs are configured to send.
    hd_uplink_mbps: float = Field(2.0, gt=0)
    #: The report year runs in this timezone (head office).
    report_timezone: str = "Asia/Shanghai"
    #: Roles that may download recorded meetings (meeting content, not equipment data).
    recording_download_roles: list[Literal["viewer", "secretariat", "engineer", "admin"]] = Field(
        default_factory=lambda: ["secretariat", "admin"])

    @field_validator("report_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r}") from exc
        return value


def load(session: Session) -> ReportPolicy:
    stored = {row.name: row.value for row in session.scalars(select(ReportSetting))}
    known = {k: v for k, v in stored.items() if k in ReportPolicy.model_fields}
    return ReportPolicy.model_validate(known)


def update(session: Session, changes: dict[str, Any], actor: str) -> ReportPolicy:
    """Validate the whole policy with ``changes`` applied, then store the changed values."""
    merged = ReportPolicy.model_validate({**load(session).model_dump(), **changes})
    for name in changes:
        row = session.get(ReportSetting, name)
        if row is None:
            row = ReportSetting(name=name)
            session.add(row)
        row.value = getattr(merged, name)
        row.updated_by = actor
        row.updated_at = utcnow()
    session.flush()
    return merged
