"""What happens when a command reaches a final state, wherever that was detected."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.models import CommandRow, Device
from central.services import audit, faults, maintenance, meetings, relocations, selftests


def on_command_final(
    session: Session, command: CommandRow, deadline_seconds: float, default_capacity: int
) -> None:
    audit.finish_command(session, command.id, command.state, command.finished_at or command.created_at,
                         command.error)
    selftests.on_command_final(session, command)
    relocations.on_command_final(session, command)
    meetings.on_command_final(session, command, deadline_seconds, default_capacity)
    _end_maintenance(session, command)


def _end_maintenance(session: Session, command: CommandRow) -> None:
    """The planned work is over; a device it left down or degraded now has a fault."""
    for window in maintenance.end_for_command(session, command):
        if window.device_id is not None:
            devices = [window.device_id]
        else:
            devices = list(session.scalars(select(Device.id).where(Device.site_id == window.site_id)))
        faults.after_maintenance(session, site_id=window.site_id, device_ids=devices,
                                 at=window.ended_at or command.finished_at or command.created_at)
