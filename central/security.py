"""Password hashing (argon2), agent site tokens (random, stored as SHA-256) and signed user tokens."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against when the user does not exist, so timing does not reveal usernames."""
    return _hasher.hash(secrets.token_urlsafe(16))

SITE_TOKEN_PREFIX = "rst"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


# -- agent site tokens ------------------------------------------------------------------------------
@dataclass(frozen=True)
class NewSiteToken:
    token_id: str
    secret: str          # the full token, shown once
    token_hash: str


def new_site_token() -> NewSiteToken:
    """``rst_<id>_<secret>``: the id finds the row, the 256-bit secret is checked by its SHA-256."""
    token_id = secrets.token_hex(8)
    secret = f"{SITE_TOKEN_PREFIX}_{token_id}_{secrets.token_urlsafe(32)}"
    return NewSiteToken(token_id, secret, sha256_hex(secret))


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def site_token_id(token: str) -> str | None:
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != SITE_TOKEN_PREFIX or not parts[1]:
        return None
    return parts[1]


def site_token_matches(token: str, token_hash: str) -> bool:
    return hmac.compare_digest(sha256_hex(token), token_hash)


# -- user access tokens (bearer and session cookie) ---------------------------------------------------
def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_access_token(key: bytes, user_id: int, ttl_seconds: int, now: float | None = None) -> str:
    issued = int(now if now is not None else time.time())
    payload = _b64(json.dumps({"sub": user_id, "iat": issued, "exp": issued + ttl_seconds}).encode())
    signature = _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())
    return f"{payload}.{signature}"


def read_access_token(key: bytes, token: str, now: float | None = None) -> int | None:
    """The user id of a valid, unexpired token, else None."""
    payload, _, signature = token.partition(".")
    if not payload or not signature:
        return None
    expected = _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(expected, signature):
        return None
    try:
        claims = json.loads(_unb64(payload))
        user_id, expires = int(claims["sub"]), float(claims["exp"])
    except (ValueError, KeyError, TypeError):
        return None
    if expires < (now if now is not None else time.time()):
        return None
    return user_id


def csrf_token_for(key: bytes, session_token: str) -> str:
    """The CSRF token bound to one session cookie (double submit, signed)."""
    return _b64(hmac.new(key, b"csrf:" + session_token.encode(), hashlib.sha256).digest())
