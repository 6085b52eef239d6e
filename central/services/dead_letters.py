"""Dead letters: agent frames central could not take, kept with the reason, listed and replayed.

A frame is set aside here when it will not be ingested as it stands: invalid for this schema,
over a bound, naming a device the site does not have, or failing to store for a lasting reason
(an integrity error). The agent then deletes it from its outbox, because central has it. A frame
sent again while held is counted, not stored twice. An admin replays a dead letter after the
cause is fixed (an upgrade, a device added to the profile): it is ingested like a new frame, in
one transaction with marking it replayed; when it still fails it stays held with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from central.models import DeadLetter, utcnow
from contracts.limits import MAX_FRAME_BYTES

#: held dead letters per site; beyond it central stops keeping (the agent then parks them itself)
QUOTA_PER_SITE = 10_000
#: what is kept of a frame over the frame limit (it cannot be replayed)
TRUNCATED_BYTES = 64 * 1024

_KIND = re.compile(r"[a-z_]{1,32}")
UnitFactory = Callable[[], AbstractContextManager[Session]]


def keep(session: Session, *, site_id: str, raw: str, msg_id: str | None, kind: str | None,
         reason: str) -> bool:
    """Keep ``raw`` as a dead letter of ``site_id``; False when the site's quota is full."""
    now = utcnow()
    if msg_id is not None:
        existing = session.scalars(select(DeadLetter).where(
            DeadLetter.site_id == site_id, DeadLetter.msg_id == msg_id)).first()
        if existing is not None:
            existing.received += 1
            existing.last_at = now
            if existing.state == "held":
                existing.reason = reason
            return True
    held = session.scalar(select(func.count()).select_from(DeadLetter).where(
        DeadLetter.site_id == site_id, DeadLetter.state == "held")) or 0
    if held >= QUOTA_PER_SITE:
        return False
    truncated = len(raw) > MAX_FRAME_BYTES
    raw = raw.replace("\x00", "\ufffd")      # PostgreSQL text holds no NUL (only garbage frames have one)
    kind = kind if kind and _KIND.fullmatch(kind) else None
    session.add(DeadLetter(site_id=site_id, msg_id=msg_id, type=kind,
                           reason=reason[:4000], body=raw[:TRUNCATED_BYTES] if truncated else raw,
                           truncated=truncated, state="held", received=1, first_at=now, last_at=now))
    session.flush()
    return True


def listing(session: Session, *, site: str | None = None, state: str | None = None, limit: int = 100,
            offset: int = 0) -> list[DeadLetter]:
    query = select(DeadLetter).order_by(DeadLetter.id)
    if site is not None:
        query = query.where(DeadLetter.site_id == site)
    if state is not None:
        query = query.where(DeadLetter.state == state)
    return list(session.scalars(query.limit(limit).offset(offset)))


class NotFound(LookupError):
    pass


class AlreadyReplayed(ValueError):
    pass


@dataclass
class ReplayOutcome:
    letter: DeadLetter
    ingested: bool
    #: the message had been ingested before (a repeat): nothing changed but the dead letter
    duplicate: bool = False
    error: str | None = None


#: ``apply(session, site_id, raw) -> bool`` ingests a frame as the link would (True when new), or
#: raises what the link would have rejected it for
Apply = Callable[[Session, str, str], bool]


def replay(unit: UnitFactory, letter_id: int, actor: str, apply: Apply,
           audit: Callable[[Session, str, str, dict[str, object]], None]) -> ReplayOutcome:
    """Ingest a held dead letter; on failure it stays held with ``replay_error`` (both audited)."""
    try:
        with unit() as session:
            letter = _get(session, letter_id)
            if letter.state != "held":
                raise AlreadyReplayed(f"dead letter {letter_id} was {letter.state} already")
            if letter.truncated:
                raise ValueError("only the first bytes of this frame were kept; it cannot be replayed")
            new = apply(session, letter.site_id, letter.body)
            letter.state = "replayed"
            letter.replayed_at = utcnow()
            letter.replayed_by = actor
            letter.replay_error = None
            audit(session, "succeeded", letter.site_id, {"dead_letter": letter.id, "msg_id": letter.msg_id,
                                                         "duplicate": not new})
            return ReplayOutcome(letter, ingested=new, duplicate=not new)
    except (NotFound, AlreadyReplayed):
        raise
    except Exception as exc:  # noqa: BLE001 - any failure of the replay is its outcome, kept with the letter
        error = f"{type(exc).__name__}: {exc}"[:4000]
        with unit() as session:
            letter = _get(session, letter_id)
            letter.replay_error = error
            audit(session, "failed", letter.site_id, {"dead_letter": letter.id, "msg_id": letter.msg_id,
                                                      "error": error})
            return ReplayOutcome(letter, ingested=False, error=error)


def _get(session: Session, letter_id: int) -> DeadLetter:
    letter = session.get(DeadLetter, letter_id)
    if letter is None:
        raise NotFound(f"no dead letter {letter_id}")
    return letter
