"""All central tables; importing this package registers them on ``Base.metadata``."""

from central.models.audit import AuditEntry
from central.models.base import Base, UTCDateTime, new_id, utcnow
from central.models.commands import COMMAND_STATES, FINAL_STATES, CommandRow
from central.models.dead_letters import DEAD_LETTER_STATES, DeadLetter
from central.models.events import (
    AgentLinkSpan,
    DeviceStateSpan,
    EventRow,
    Fault,
    MaintenanceWindow,
)
from central.models.meetings import Meeting, MeetingSite, Recording
from central.models.messages import IngestedMessage
from central.models.relocations import Relocation
from central.models.selftests import SelftestRow
from central.models.sites import AgentAddress, AgentToken, Device, Site
from central.models.uplink import UplinkMeasurement
from central.models.users import ROLES, User

__all__ = [
    "COMMAND_STATES", "DEAD_LETTER_STATES", "FINAL_STATES", "ROLES", "AgentAddress", "AgentLinkSpan",
    "AgentToken", "AuditEntry", "Base", "CommandRow", "DeadLetter", "Device", "DeviceStateSpan", "EventRow",
    "Fault", "IngestedMessage", "MaintenanceWindow", "Meeting", "MeetingSite", "Recording", "Relocation",
    "SelftestRow", "Site", "UTCDateTime", "UplinkMeasurement", "User", "new_id", "utcnow",
]
