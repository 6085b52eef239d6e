"""SSH specifics: host key pinning, trust on first use, secrets, what the server allows."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import paramiko
import pytest

from drivers.errors import AuthError, DeviceError, HostKeyError
from drivers.transports import SshTransport
from simulators.ssh_server import SshServer
from tests.foundation.conftest import PASSWORD, PROMPT


def ssh_server(served) -> SshServer:
    server = served.sim.servers[0]
    assert isinstance(server, SshServer)
    return server


def test_pinned_key_is_accepted(serve) -> None:
    served = serve("ssh")
    with served.connect() as t:
        t.write(b"pinned\n")
        assert t.read_until(b"\r\n", 2.0) == b"ECHO pinned\r\n"


@pytest.mark.parametrize("known_hosts", ["missing", "empty", "other-host", "none"])
def test_unknown_key_is_refused(serve, tmp_path: Path, known_hosts: str) -> None:
    served = serve("ssh")
    path: str | None = str(tmp_path / "kh")
    if known_hosts == "empty":
        Path(path).write_text("")
    elif known_hosts == "other-host":
        key = paramiko.ECDSAKey.generate()
        Path(path).write_text(f"[127.9.9.9]:{served.port} {key.get_name()} {key.get_base64()}\n")
    elif known_hosts == "none":
        path = None
    t = served.transport(known_hosts=path)
    with pytest.raises(HostKeyError) as caught:
        t.open()
    assert isinstance(caught.value, AuthError)
    assert not caught.value.retryable
    assert caught.value.reason == "host_key_refused"
    assert "unknown" in str(caught.value)
    assert "trust on first use" in str(caught.value)
    assert not t.is_open
    if path is not None and known_hosts == "missing":
        assert not os.path.exists(path), "refusing must not record anything"


def test_mismatched_key_is_refused(serve, tmp_path: Path) -> None:
    served = serve("ssh")
    server = ssh_server(served)
    impostor = paramiko.ECDSAKey.generate()
    kh = tmp_path / "kh"
    kh.write_text(f"{server.known_hosts_name()} {impostor.get_name()} {impostor.get_base64()}\n")
    for tofu in (False, True):  # trust on FIRST use never accepts a changed key
        with pytest.raises(HostKeyError) as caught:
            served.transport(known_hosts=str(kh), trust_on_first_use=tofu).open()
        assert "does not match" in str(caught.value)
        assert server.host_key.fingerprint in str(caught.value)
    assert kh.read_text().count("\n") == 1, "a refused key must not be recorded"


def test_pinned_key_of_another_type_is_a_mismatch(serve, tmp_path: Path) -> None:
    served = serve("ssh")
    server = ssh_server(served)
    rsa = paramiko.RSAKey.generate(1024)
    kh = tmp_path / "kh"
    kh.write_text(f"{server.known_hosts_name()} {rsa.get_name()} {rsa.get_base64()}\n")
    with pytest.raises(HostKeyError, match="does not match"):
        served.transport(known_hosts=str(kh)).open()


def test_trust_on_first_use_records_the_key(serve, tmp_path: Path) -> None:
    served = serve("ssh")
    server = ssh_server(served)
    kh = tmp_path / "sub" / "known_hosts"
    with served.transport(known_hosts=str(kh), trust_on_first_use=True) as t:
        t.read_until(PROMPT, 2.0)
        assert "trusted new host key" in t.transcript.render()
    assert stat.S_IMODE(os.stat(kh).st_mode) == 0o600
    assert kh.read_text() == server.known_hosts_line() + "\n"
    # From now on it is pinned: a strict client accepts it, and it is not recorded twice.
    with served.transport(known_hosts=str(kh)) as t:
        t.read_until(PROMPT, 2.0)
    with served.transport(known_hosts=str(kh), trust_on_first_use=True) as t:
        t.read_until(PROMPT, 2.0)
    assert kh.read_text().count("\n") == 1


def test_trust_on_first_use_without_a_file_pins_for_the_object(serve, loopback_factory) -> None:
    served = serve("ssh")
    t = served.transport(known_hosts=None, trust_on_first_use=True)
    t.open()
    t.close()
    # The same device with a new key (replaced unit) on the same address: refused.
    server = ssh_server(served)
    server.host_key = paramiko.ECDSAKey.generate()
    with pytest.raises(HostKeyError, match="does not match"):
        t.open()


def test_known_hosts_names_port_22_bare() -> None:
    assert SshTransport("10.1.2.3", 22, username="u", password="p").host_key_name == "10.1.2.3"
    assert SshTransport("10.1.2.3", 2222, username="u", password="p").host_key_name == "[10.1.2.3]:2222"


def test_known_hosts_file_with_hashed_names_and_junk_lines(serve, tmp_path: Path) -> None:
    served = serve("ssh")
    server = ssh_server(served)
    hashed = paramiko.HostKeys.hash_host(server.known_hosts_name())
    kh = tmp_path / "kh"
    kh.write_text("# a comment\nthis is not a key line\n"
                  f"{hashed} {server.host_key.get_name()} {server.host_key.get_base64()}\n")
    with served.transport(known_hosts=str(kh)) as t:
        t.read_until(PROMPT, 2.0)


def test_password_never_shows(serve) -> None:
    served = serve("ssh")
    with served.connect() as t:
        t.write(f"my password is {PASSWORD}\n".encode())
        assert t.read_until(b"\r\n", 2.0).endswith(f"{PASSWORD}\r\n".encode())
        shown = t.transcript.render() + repr(t) + str(vars(t.transcript))
        assert PASSWORD not in t.transcript.render()
        assert PASSWORD not in repr(t)
        assert "********" in shown


def test_exec_requests_are_refused_but_shells_work(serve, tmp_path: Path) -> None:
    served = serve("ssh")
    server = ssh_server(served)
    client = paramiko.SSHClient()
    client.get_host_keys().add(server.known_hosts_name(), server.host_key.get_name(), server.host_key)
    client.connect(served.host, served.port, username="admin", password=PASSWORD,
                   look_for_keys=False, allow_agent=False, timeout=2)
    try:
        with pytest.raises(paramiko.SSHException):
            client.exec_command("show version", timeout=2)
        shell = client.invoke_shell()
        shell.settimeout(2)
        assert shell.recv(16) == PROMPT
    finally:
        client.close()


def test_connect_to_nothing_is_connect_error(loopback: str) -> None:
    from drivers.errors import ConnectError

    t = SshTransport(loopback, 1, username="u", password="p", connect_timeout=1.0)
    with pytest.raises(ConnectError):
        t.open()


def test_a_server_that_is_not_ssh_is_connect_error(serve) -> None:
    served = serve("tcp")  # sends "> " and waits for a line: no SSH banner
    t = SshTransport(served.host, served.port, username="u", password="p", connect_timeout=0.5,
                     trust_on_first_use=True)
    with pytest.raises(DeviceError) as caught:
        t.open()
    assert caught.value.reason in ("connect_failed", "timeout")
    assert not t.is_open
