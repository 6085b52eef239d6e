"""Settings, password and token handling, login rate limiting, metrics text."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from central.metrics import Metrics
from central.ratelimit import LoginThrottled, MemoryLoginLimiter
from central.security import (
    csrf_token_for,
    hash_password,
    new_site_token,
    read_access_token,
    sign_access_token,
    site_token_id,
    site_token_matches,
    verify_password,
)
from central.settings import Settings


def test_settings_from_env(tmp_path: Path) -> None:
    env = {"ROOMOPS_DATA_DIR": str(tmp_path), "ROOMOPS_COMMAND_DEADLINE_SECONDS": "12.5",
           "ROOMOPS_DATABASE_URL": "postgresql+psycopg://u@h/db", "ROOMOPS_COOKIE_SECURE": "true",
           "UNRELATED": "x"}
    settings = Settings.from_env(env, port=9000)
    assert settings.data_dir == tmp_path and settings.command_deadline_seconds == 12.5
    assert settings.cookie_secure is True and settings.port == 9000
    assert settings.resolved_database_url() == "postgresql+psycopg://u@h/db"
    assert Settings.from_env({"ROOMOPS_DATA_DIR": str(tmp_path)}).resolved_database_url() == (
        f"sqlite:///{tmp_path / 'central.db'}")
    with pytest.raises(ValidationError):
        Settings.from_env({"ROOMOPS_HEARTBEAT_INTERVAL_SECONDS": "-1"})


def test_secret_key_created_once_with_0600(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    key = settings.resolved_secret_key()
    path = tmp_path / "data" / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(key) >= 32
    assert settings.resolved_secret_key() == key
    assert Settings(data_dir=tmp_path, secret_key="given").resolved_secret_key() == b"given"
    assert "given" not in repr(Settings(secret_key="given"))


def test_passwords_are_argon2() -> None:
    digest = hash_password("s3cret-pass")
    assert digest.startswith("$argon2") and "s3cret-pass" not in digest
    assert verify_password(digest, "s3cret-pass") and not verify_password(digest, "wrong")
    assert not verify_password(None, "anything") and not verify_password("garbage", "x")


def test_access_tokens_sign_expire_and_resist_tampering() -> None:
    key = b"k" * 32
    token = sign_access_token(key, 7, ttl_seconds=60, now=1000)
    assert read_access_token(key, token, now=1030) == 7
    assert read_access_token(key, token, now=1061) is None
    assert read_access_token(b"other" * 8, token, now=1030) is None
    payload, signature = token.split(".")
    assert read_access_token(key, payload + "x." + signature, now=1030) is None
    assert read_access_token(key, "no-dot", now=1030) is None
    assert csrf_token_for(key, token) != csrf_token_for(key, token + "x")


def test_site_tokens() -> None:
    token = new_site_token()
    assert site_token_id(token.secret) == token.token_id
    assert site_token_matches(token.secret, token.token_hash) and token.secret not in token.token_hash
    assert not site_token_matches(token.secret + "x", token.token_hash)
    assert site_token_id("Bearer abc") is None and site_token_id("rst__x") is None


def test_login_limiter_counts_before_the_check_and_backs_off_per_address() -> None:
    limiter = MemoryLoginLimiter(max_attempts=3, window_seconds=100, base_delay=10, max_delay=40)
    for t in (0, 1, 2):                        # reserved before the check: counted at once
        limiter.reserve("admin", "10.0.0.9", now=t)
    with pytest.raises(LoginThrottled) as caught:
        limiter.reserve("admin", "10.0.0.9", now=3)
    assert caught.value.retry_after == pytest.approx(9)
    limiter.reserve("admin", "10.0.0.7", now=3)   # the real user, from her own address
    assert limiter.retry_after("viewer", "10.0.0.9", now=3) == 0
    waits = []
    for t in (12, 32, 72, 112):                   # each further failure doubles the wait, up to 40 s
        limiter.failed(limiter.reserve("admin", "10.0.0.9", now=t), now=t)
        waits.append(limiter.retry_after("admin", "10.0.0.9", now=t))
    assert waits == [20, 40, 40, 40]
    assert limiter.retry_after("admin", "10.0.0.9", now=213) == 0     # quiet for a window: forgotten


def test_a_success_takes_back_only_its_own_attempt() -> None:
    limiter = MemoryLoginLimiter(max_attempts=5, window_seconds=100, address_factor=4)
    for user in ("a", "b", "c", "d", "e"):       # spraying from one address: 4 wrong each
        for _ in range(4):
            limiter.failed(limiter.reserve(user, "10.0.0.9", now=1), now=1)
        # the attacker signs in to his own account in between: clears nothing of the others
        if user != "e":
            limiter.succeeded(limiter.reserve("mallory", "10.0.0.9", now=1))
    with pytest.raises(LoginThrottled):
        limiter.reserve("mallory", "10.0.0.9", now=2)
    limiter.reserve("a", "10.0.0.10", now=2)          # the users themselves, elsewhere


def test_metrics_text_format() -> None:
    metrics = Metrics()
    metrics.message_ingested("status", new=True)
    metrics.message_ingested("status", new=False)
    for seconds in (0.1, 0.2, 0.3):
        metrics.command_finished(seconds)
    text = metrics.render(connected_agents=2, open_faults=1, commands_by_state={"queued": 4})
    lines = text.splitlines()
    assert 'roomops_messages_ingested_total{type="status"} 1.0' in lines
    assert "roomops_messages_duplicate_total 1.0" in lines and "roomops_connected_agents 2.0" in lines
    # a histogram, not a per-process quantile: buckets of several instances add up
    assert "# TYPE roomops_command_latency_seconds histogram" in lines
    assert 'roomops_command_latency_seconds_bucket{le="0.25"} 2.0' in lines
    assert "roomops_command_latency_seconds_count 3.0" in lines
    assert 'roomops_commands{state="queued"} 4.0' in lines
    for line in lines:
        assert line.startswith("#") or len(line.split(" ")) == 2, line
