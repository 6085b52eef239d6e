"""What happens when a command reaches a final state, wherever that was detected."""

from __future__ import annotations

from sqlalchemy.orm import Session

from central.models import CommandRow
from central.services import audit, meetings, relocations, selftests


def on_command_final(
    session: Session, command: CommandRow, deadline_seconds: float, default_capacity: int
) -> None:
    audit.finish_command(session, command.id, command.state, command.finished_at or command.created_at,
                         command.error)
    selftests.on_command_final(session, command)
    relocations.on_command_final(session, command)
    meetings.on_command_final(session, command, deadline_seconds, default_capacity)
