"""Admin: the retention policy (how many days of history each table keeps; 0 keeps forever)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from central.api.deps import Principal, admin, get_ctx
from central.context import AppContext
from central.models import utcnow
from central.services import audit, retention

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])

MAX_DAYS = 36500


class RetentionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    messages_days: int = Field(ge=0, le=MAX_DAYS, description="ingest dedupe keys (messages_ingested)")
    events_days: int = Field(ge=0, le=MAX_DAYS, description="device and call events")
    commands_days: int = Field(ge=0, le=MAX_DAYS, description="finished commands")
    audit_days: int = Field(ge=0, le=MAX_DAYS, description="audit log")


class RetentionOut(RetentionIn):
    updated_by: str = ""
    updated_at: datetime | None = None


def _out(policy: retention.Policy) -> RetentionOut:
    return RetentionOut(messages_days=policy.messages_days, events_days=policy.events_days,
                        commands_days=policy.commands_days, audit_days=policy.audit_days,
                        updated_by=policy.updated_by, updated_at=policy.updated_at)


@router.get("/retention", response_model=RetentionOut)
def get_retention(_: Principal = Depends(admin), ctx: AppContext = Depends(get_ctx)) -> RetentionOut:
    with ctx.unit() as session:
        return _out(retention.current(session, ctx.settings))


@router.put("/retention", response_model=RetentionOut)
def put_retention(body: RetentionIn, user: Principal = Depends(admin),
                  ctx: AppContext = Depends(get_ctx)) -> RetentionOut:
    with ctx.unit() as session:
        stored = retention.store(session, retention.Policy(**body.model_dump()), user.username, utcnow())
        audit.record(session, actor=user.username, action="retention.set", target="retention",
                     outcome="succeeded", detail=body.model_dump())
        return _out(stored)
