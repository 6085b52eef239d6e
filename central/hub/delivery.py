"""What to send to connected sites in one delivery round: schedules and queued commands.

One round reads for every site that is due at once (a few queries, not a few per site), so a
meeting of hundreds of sites costs the same handful of statements as a meeting of six.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from central.models import utcnow
from central.services import commands, meetings
from contracts.messages import Command, Schedule


@dataclass
class Deliveries:
    schedules: dict[str, Schedule] = field(default_factory=dict)
    #: site -> commands not yet sent on its connection (marked sent by this round)
    commands: dict[str, list[Command]] = field(default_factory=dict)
    #: site -> every command id still queued for it (what its connection must keep skipping)
    queued: dict[str, set[str]] = field(default_factory=dict)


def collect(session: Session, schedule_sites: Collection[str],
            sent: Mapping[str, Collection[str]]) -> Deliveries:
    """Schedules for ``schedule_sites``; commands for the sites in ``sent`` minus those already sent."""
    now = utcnow()
    out = Deliveries()
    if schedule_sites:
        for site, items in meetings.schedules_for_sites(session, schedule_sites, now).items():
            out.schedules[site] = Schedule(site=site, meetings=items)
    if sent:
        out.queued = commands.queued_ids(session, sent.keys(), now)
        new = {site: ids - set(sent[site]) for site, ids in out.queued.items()}
        out.commands = commands.take_by_ids(session, {i for ids in new.values() for i in ids}, now)
    return out
