"""Users, sites and agent tokens: shared by the admin API and the ``roomops central`` CLI."""

from __future__ import annotations

import re
from zoneinfo import available_timezones

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.models import ROLES, AgentToken, Site, User, utcnow
from central.security import hash_password, new_site_token, site_token_id, site_token_matches, verify_password

USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
SITE_ID = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
MIN_PASSWORD = 8


class AccountError(ValueError):
    pass


class AlreadyExists(AccountError):
    pass


def create_user(session: Session, username: str, password: str, roles: list[str]) -> User:
    if not USERNAME.match(username):
        raise AccountError("username: 1-64 letters, digits or _.@-")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"password: at least {MIN_PASSWORD} characters")
    unknown = sorted(set(roles) - set(ROLES))
    if unknown or not roles:
        raise AccountError(f"roles must be some of {', '.join(ROLES)}; got {', '.join(unknown) or 'none'}")
    if session.scalars(select(User).where(User.username == username)).first() is not None:
        raise AlreadyExists(f"user {username!r} already exists")
    user = User(username=username, password_hash=hash_password(password), roles=sorted(set(roles)))
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    user = session.scalars(select(User).where(User.username == username)).first()
    ok = verify_password(user.password_hash if user else None, password)
    return user if ok and user is not None and user.active else None


def create_site(
    session: Session, site_id: str, *, name: str = "", name_zh: str = "", timezone: str = "Asia/Shanghai",
    codec_uri: str | None = None, multisite_capacity: int | None = None,
) -> Site:
    if not SITE_ID.fullmatch(site_id):
        raise AccountError("site id: lowercase letters, digits, _ or -, starting with a letter")
    # the CLI comes here without the API's schema: a bad time zone would break every report later
    if timezone not in available_timezones():
        raise AccountError("timezone: must be an IANA time zone such as Asia/Shanghai")
    if multisite_capacity is not None and not 1 <= multisite_capacity <= 64:
        raise AccountError("multisite capacity: 1 to 64")
    if session.get(Site, site_id) is not None:
        raise AlreadyExists(f"site {site_id!r} already exists")
    site = Site(id=site_id, name=name or site_id.title(), name_zh=name_zh, timezone=timezone,
                codec_uri=codec_uri, multisite_capacity=multisite_capacity)
    session.add(site)
    session.flush()
    return site


def retire_site(session: Session, site: Site, actor: str) -> list[str]:
    """Mark the site retired and revoke its agent tokens; returns the revoked token ids."""
    now = utcnow()
    site.retired_at, site.retired_by = now, actor
    tokens = session.scalars(select(AgentToken).where(AgentToken.site_id == site.id,
                                                      AgentToken.revoked_at.is_(None))).all()
    for token in tokens:
        token.revoked_at = now
    site.agent_connected = False
    return sorted(t.id for t in tokens)


def issue_site_token(session: Session, site_id: str, created_by: str) -> tuple[AgentToken, str]:
    """A new token for the site's agent; the secret is returned once and only its hash is kept."""
    if session.get(Site, site_id) is None:
        raise AccountError(f"unknown site {site_id!r}")
    token = new_site_token()
    row = AgentToken(id=token.token_id, site_id=site_id, token_hash=token.token_hash, created_by=created_by)
    session.add(row)
    session.flush()
    return row, token.secret


def revoke_site_token(session: Session, site_id: str, token_id: str) -> AgentToken | None:
    row = session.get(AgentToken, token_id)
    if row is None or row.site_id != site_id:
        return None
    row.revoked_at = row.revoked_at or utcnow()
    return row


def site_for_token(session: Session, token: str) -> str | None:
    token_id = site_token_id(token)
    if token_id is None:
        return None
    row = session.get(AgentToken, token_id)
    if row is None or row.revoked_at is not None or not site_token_matches(token, row.token_hash):
        return None
    return row.site_id
