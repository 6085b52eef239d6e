"""Where each site's agent connects from, as central sees it (the link's peer address).

Branch offices have no fixed address: a line that changes its address during the year is part of
the case for renewal. ``record`` stores a new row only when the address differs from the last one
seen (a reconnect from the same address only moves ``last_seen``). Behind a load balancer the
peer is the balancer; the report then shows one address and says so through the count alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.models import AgentAddress
from central.services.agent_addresses import record

__all__ = ["record"]


@dataclass
class AddressHistory:
    #: addresses the agent used in the period, in order
    addresses: list[str] = field(default_factory=list)
    #: changes of address that happened inside the period
    changes: int = 0

    @property
    def changed(self) -> bool | None:
        """None when central never saw the agent in the period."""
        return None if not self.addresses else self.changes > 0


def history(session: Session, site_ids: list[str], lo: datetime, hi: datetime) -> dict[str, AddressHistory]:
    """Per site: the addresses in use during [lo, hi) and how many times the address changed."""
    out = {s: AddressHistory() for s in site_ids}
    rows = list(session.scalars(select(AgentAddress).where(AgentAddress.site_id.in_(site_ids))
                                .order_by(AgentAddress.site_id, AgentAddress.id)))
    for i, row in enumerate(rows):
        # an address is in use from its first connection until the next address's first one
        following = rows[i + 1] if i + 1 < len(rows) and rows[i + 1].site_id == row.site_id else None
        until = following.first_seen if following is not None else None
        if row.first_seen >= hi or (until is not None and until <= lo):
            continue
        figures = out[row.site_id]
        figures.addresses.append(row.address)
        first_of_site = i == 0 or rows[i - 1].site_id != row.site_id
        if not first_of_site and lo <= row.first_seen < hi:
            figures.changes += 1
    return out
