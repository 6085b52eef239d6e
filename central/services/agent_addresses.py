"""Note where a site's agent connects from (the link's peer), one row per change of address."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.models import AgentAddress, Site, utcnow


def record(session: Session, site_id: str, address: str, at: datetime | None = None) -> AgentAddress | None:
    """Note that the agent of ``site_id`` connected from ``address`` (no port)."""
    if not address or session.get(Site, site_id) is None:
        return None
    now = at or utcnow()
    last = session.scalars(select(AgentAddress).where(AgentAddress.site_id == site_id)
                           .order_by(AgentAddress.id.desc()).limit(1)).first()
    if last is not None and last.address == address:
        last.last_seen = max(last.last_seen, now)
        return last
    row = AgentAddress(site_id=site_id, address=address[:64], first_seen=now, last_seen=now)
    session.add(row)
    session.flush()
    return row
