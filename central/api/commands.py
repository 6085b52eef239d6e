"""Device commands: an engineer asks, the site's agent executes, the result comes back."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from central.api.deps import Principal, engineer, get_ctx, reader
from central.api.lookup import DEVICE_ID_HINT, filtered, get_or_404
from central.api.schemas import CommandOut, Created, DeviceCommandIn
from central.context import AppContext
from central.models import CommandRow, Device
from central.services import audit, commands, maintenance

router = APIRouter(prefix="/api/v1", tags=["commands"])


@router.post("/devices/{device}/commands", response_model=Created, status_code=202)
def device_command(device: str, body: DeviceCommandIn, user: Principal = Depends(engineer),
                   ctx: AppContext = Depends(get_ctx)) -> Created:
    seconds = body.deadline_seconds or ctx.settings.command_deadline_seconds
    with ctx.unit() as session:
        row = get_or_404(session, Device, device, "device", DEVICE_ID_HINT)
        command = commands.enqueue(session, site_id=row.site_id, device_id=row.id, kind=body.kind,
                                   args=body.args, requested_by=user.username,
                                   deadline=commands.deadline_in(seconds))
        audit.record(session, actor=user.username, action=f"device.{body.kind}", target=row.id,
                     outcome="accepted", detail={"args": body.args, "reason": body.reason},
                     command_id=command.id)
        # a reboot or power-cycle is planned work: its outage is not a fault
        maintenance.for_command(session, command, user.username, why=body.reason or "")
        return Created(id=command.id)


@router.get("/commands/{command_id}", response_model=CommandOut)
def command_detail(command_id: str, _: Principal = Depends(reader),
                   ctx: AppContext = Depends(get_ctx)) -> CommandRow:
    with ctx.unit() as session:
        return get_or_404(session, CommandRow, command_id, "command")


@router.get("/commands", response_model=list[CommandOut])
def list_commands(site: str | None = None, device: str | None = None, state: str | None = None,
                  limit: int = Query(100, ge=1, le=1000), _: Principal = Depends(reader),
                  ctx: AppContext = Depends(get_ctx)) -> list[CommandRow]:
    query = filtered(CommandRow, CommandRow.created_at.desc(), limit=limit,
                     site_id=site, device_id=device, state=state)
    with ctx.unit() as session:
        return list(session.scalars(query))
