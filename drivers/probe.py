"""What answers at an address or on a serial line: for onboarding a room nobody documented.

Only read-only exchanges: we listen to what a unit says on connect (PJLink greeting, Extron
copyright banner, Polycom welcome or password prompt, router and PDU login prompts, an SSH
version line) and ask only queries (PJLink ``INF1``/``INF2``/``CLSS``/``SNUM``/``SVER``, Extron
``Q``/``N``, Polycom ``whoami``, VISCA ``CAM_VersionInq``). Nothing is logged into, nothing is
set. A closed port, silence or garbage is a result with a reason, never an exception.
"""

from __future__ import annotations

import contextlib
import re
import select
import socket
import time
from dataclasses import dataclass, field

import serial

from drivers.sony_visca import MODEL_NAMES
from drivers.transports.telnet import TelnetParser

#: Ports tried when none is given: SSH, Telnet, Polycom API, PJLink (and the unprivileged
#: stand-ins the demo simulators use for the first three).
DEFAULT_TCP_PORTS = (22, 23, 24, 4352, 2222, 2323, 2424)
VISCA_IP_PORT = 52381


@dataclass
class ProbeResult:
    where: str                     # "tcp://h:p", "udp://h:p", "serial:/dev/ttyUSB0@9600"
    answered: bool
    protocol: str = ""             # "pjlink", "extron-sis", "polycom-api", "visca", "ssh", ...
    driver: str = ""               # our driver name when we know it
    vendor: str = ""
    model: str = ""
    serial: str = ""
    firmware: str = ""
    transport: str = ""            # what a profile would say: telnet, tcp, ssh, udp, serial
    port: int = 0
    note: str = ""                 # what we could not learn, and why
    evidence: str = field(default="", repr=False)   # the first bytes heard, for engineers


# -- TCP ------------------------------------------------------------------------------------------
class _Conn:
    """A socket with an IAC filter and reads bounded by deadlines."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.telnet = TelnetParser()
        self.data = bytearray()

    def listen(self, seconds: float, until: re.Pattern[bytes] | None = None) -> bytes:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if until is not None and until.search(self.data):
                break
            ready, _, _ = select.select([self.sock], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            data, answer = self.telnet.feed(chunk)
            if answer:
                self.sock.sendall(answer)   # refuse option negotiation: plain NVT
            self.data += data
        return bytes(self.data)

    def ask(self, text: bytes, seconds: float, until: re.Pattern[bytes]) -> bytes:
        self.data.clear()
        self.sock.sendall(text)
        return self.listen(seconds, until)


def probe_tcp(host: str, port: int, timeout: float = 2.0) -> ProbeResult:
    where = f"tcp://{host}:{port}"
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except ConnectionRefusedError:
        return ProbeResult(where, False, port=port, note="closed: connection refused")
    except TimeoutError:
        return ProbeResult(where, False, port=port, note=f"no answer within {timeout:g} s (filtered?)")
    except OSError as exc:
        return ProbeResult(where, False, port=port, note=f"unreachable: {exc.strerror or exc}")
    try:
        return _identify_stream(_Conn(sock), where, port, timeout)
    except OSError as exc:
        return ProbeResult(where, False, port=port, note=f"connection lost while probing: {exc}")
    finally:
        with contextlib.suppress(OSError):
            sock.close()


def _identify_stream(conn: _Conn, where: str, port: int, timeout: float) -> ProbeResult:
    heard = conn.listen(min(timeout, 1.5), re.compile(rb"(\r|\n|:\s*)$"))
    text = heard.decode("latin-1", "replace")
    res = ProbeResult(where, True, port=port, transport="telnet", evidence=text[:200])
    if text.startswith("SSH-"):
        res.protocol, res.transport = "ssh", "ssh"
        res.note = f"SSH server {text.strip()}: a login is needed to say more (Cisco codec or router?)"
        return res
    if text.startswith("PJLINK"):
        return _pjlink(conn, res, text)
    if "Extron" in text:
        return _extron(conn, res, text, timeout)
    if "Hi, my name is" in text:
        return _polycom(conn, res, heard, timeout, ask=False)
    if "User Access Verification" in text:
        return _named(res, "cisco-ios-cli", "cisco-ios", "Cisco", "IOS login prompt: credentials needed")
    if "Login authentication" in text:
        return _named(res, "huawei-vrp-cli", "huawei-vrp", "Huawei", "VRP login prompt: credentials needed")
    if "User Name" in text:
        return _named(res, "apc-cli", "apc-pdu", "APC", "APC network management card login prompt")
    if "Cisco Codec" in text or "*r Login successful" in text:
        return _named(res, "cisco-xapi", "cisco-roomos", "Cisco", "xAPI session open")
    if re.search(r"login:\s*$", text):
        res.protocol, res.note = "login", "a login prompt (Cisco codec Telnet API?): credentials needed"
        return res
    if re.search(r"Password:\s*$", text):
        res.protocol = "polycom-api" if port in (24, 2424) else "password-prompt"
        res.driver = "polycom-hdx" if port in (24, 2424) else ""
        res.note = ("Polycom API password prompt: a password is needed to read model and serial"
                    if port in (24, 2424) else "a password prompt: credentials needed")
        return res
    if not text.strip():
        return _silent(conn, res, timeout)
    res.protocol, res.note = "unknown", f"unrecognised greeting {text.strip()[:60]!r}"
    return res


def _named(res: ProbeResult, protocol: str, driver: str, vendor: str, note: str) -> ProbeResult:
    res.protocol, res.driver, res.vendor, res.note = protocol, driver, vendor, note
    return res


def _pjlink(conn: _Conn, res: ProbeResult, text: str) -> ProbeResult:
    res.protocol, res.driver, res.transport = "pjlink", "pjlink", "tcp"
    if text.startswith("PJLINK 1"):
        res.note = "PJLink with a password: the password is needed to read identity"
        return res
    if not text.startswith("PJLINK 0"):
        res.note = f"PJLink greeting not understood: {text.strip()[:40]!r}"
        return res
    answers: dict[str, str] = {}
    for cls, cmd in (("1", "INF1"), ("1", "INF2"), ("1", "CLSS"), ("2", "SNUM"), ("2", "SVER")):
        if cls == "2" and answers.get("CLSS") != "2":
            continue
        reply = conn.ask(f"%{cls}{cmd} ?\r".encode(), 2.0, re.compile(rb"\r")).decode("latin-1").strip()
        m = re.fullmatch(rf"%{cls}{cmd}=(.*)", reply)
        if m and not m.group(1).startswith("ERR"):
            answers[cmd] = m.group(1)
    res.vendor, res.model = answers.get("INF1", ""), answers.get("INF2", "")
    res.serial, res.firmware = answers.get("SNUM", ""), answers.get("SVER", "")
    if answers.get("CLSS") != "2":
        res.note = "PJLink class 1: no serial number over the protocol"
    return res


_BANNER = re.compile(r"Extron Electronics,? (?P<model>[^,]+), V(?P<fw>[\d.]+)(?:, (?P<part>60-\d+-\d+))?")


def _extron(conn: _Conn, res: ProbeResult, text: str, timeout: float) -> ProbeResult:
    res.protocol, res.vendor = "extron-sis", "Extron"
    res.driver = "extron-smp-recorder" if "SMP" in text else "extron-sis-switcher"
    m = _BANNER.search(text)
    if m:
        res.model, res.firmware, part = m.group("model").strip(), m.group("fw"), m.group("part") or ""
        res.note = f"part {part}" if part else ""
    tail = conn.listen(1.0, re.compile(rb"Password:"))
    if b"Password:" in tail:
        res.note = (res.note + "; " if res.note else "") + "password set: serial queries need it"
        return res
    reply = conn.ask(b"N", timeout, re.compile(rb"\r\n")).decode("latin-1").strip()
    if re.fullmatch(r"N?60-\d+-\d+", reply):
        res.note = f"part {reply.lstrip('N')}"
    return res


def _polycom(conn: _Conn, res: ProbeResult, heard: bytes, timeout: float, *, ask: bool) -> ProbeResult:
    """The welcome block (``Hi, my name is`` + key/value lines) carries model, serial, software."""
    data = heard + conn.listen(timeout, re.compile(rb"-> $")) if not ask else \
        conn.ask(b"whoami\r", timeout, re.compile(rb"-> $"))
    info: dict[str, str] = {}
    for line in data.decode("latin-1", "replace").splitlines():
        key, sep, value = line.strip().partition(":")
        if sep:
            info[key.strip()] = value.strip()
    res.protocol, res.vendor = "polycom-api", "Polycom"
    res.model, res.serial = info.get("Model", ""), info.get("Serial Number", "")
    software = info.get("Software Version", "")
    version = re.search(r"\d+(\.\d+)+", software)
    res.firmware = version.group(0) if version else software
    res.driver = "polycom-hdx" if res.model.upper().startswith("HDX") else "poly-group"
    if not res.model:
        res.note = "a Polycom welcome without a Model line"
    return res


def _silent(conn: _Conn, res: ProbeResult, timeout: float) -> ProbeResult:
    """Nothing said on connect: an Extron unit without a banner answers ``Q`` with its firmware."""
    reply = conn.ask(b"Q", min(timeout, 1.0), re.compile(rb"\r\n")).decode("latin-1").strip()
    if re.fullmatch(r"\d+\.\d+(\.\d+)*", reply):
        _extron_found(res, reply)
        res.note = "no copyright banner: model unknown"
        return res
    res.protocol, res.answered = "", False
    res.note = "open but silent: nothing we know answered"
    return res


def _extron_found(res: ProbeResult, firmware: str) -> None:
    res.answered, res.protocol, res.driver, res.vendor = True, "extron-sis", "extron-sis-switcher", "Extron"
    res.firmware = firmware


# -- VISCA over IP --------------------------------------------------------------------------------
def probe_visca_udp(host: str, port: int = VISCA_IP_PORT, timeout: float = 1.0) -> ProbeResult:
    where = f"udp://{host}:{port}"
    res = ProbeResult(where, False, port=port, transport="udp")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.sendto(bytes.fromhex("02 00 00 01 00 00 00 00 01"), (host, port))   # RESET sequence
            sock.recv(64)
            sock.sendto(bytes.fromhex("01 10 00 05 00 00 00 01 81 09 00 02 ff"), (host, port))
            reply = sock.recv(64)
        except TimeoutError:
            res.note = f"no VISCA-over-IP answer within {timeout:g} s"
            return res
        except OSError as exc:
            res.note = f"unreachable: {exc.strerror or exc}"
            return res
    return _visca_version(res, reply[8:], reply.hex(" "))


def _visca_version(res: ProbeResult, packet: bytes, evidence: str) -> ProbeResult:
    res.evidence = evidence
    if len(packet) == 10 and packet[1] == 0x50 and packet[-1] == 0xFF:
        vendor, model, rom = (int.from_bytes(packet[i:i + 2], "big") for i in (2, 4, 6))
        res.answered, res.protocol, res.driver = True, "visca", "sony-visca"
        res.vendor = "Sony" if vendor in (0x0001, 0x0020) else f"0x{vendor:04X}"
        res.model = MODEL_NAMES.get(model, f"0x{model:04X}")
        res.firmware = f"{rom:04X}"
        res.note = "VISCA has no serial-number inquiry"
    else:
        res.note = f"not a VISCA version answer: {evidence[:40]}"
    return res


def probe_host(host: str, port: int | None = None, timeout: float = 2.0) -> list[ProbeResult]:
    if port == VISCA_IP_PORT:
        return [probe_visca_udp(host, port, min(timeout, 1.0))]
    if port is not None:
        return [probe_tcp(host, port, timeout)]
    results = [probe_tcp(host, p, timeout) for p in DEFAULT_TCP_PORTS]
    results.append(probe_visca_udp(host, VISCA_IP_PORT, min(timeout, 1.0)))
    return results


# -- serial ---------------------------------------------------------------------------------------
def probe_serial(url: str, baudrate: int = 9600, timeout: float = 1.0) -> list[ProbeResult]:
    where = f"serial:{url}@{baudrate}"
    try:
        port = serial.serial_for_url(url, baudrate=baudrate, timeout=timeout, write_timeout=timeout)
    except (serial.SerialException, OSError, ValueError) as exc:
        return [ProbeResult(where, False, transport="serial", note=f"cannot open the line: {exc}")]
    try:
        return [_probe_line(port, where, timeout)]
    except (serial.SerialException, OSError) as exc:
        return [ProbeResult(where, False, transport="serial", note=f"line failed while probing: {exc}")]
    finally:
        port.close()


def _read_line_until(port: serial.SerialBase, pattern: re.Pattern[bytes], seconds: float) -> bytes:
    deadline = time.monotonic() + seconds
    data = bytearray()
    while time.monotonic() < deadline and not pattern.search(data):
        port.timeout = max(0.01, deadline - time.monotonic())
        chunk = port.read(max(1, port.in_waiting))
        if not chunk:
            break
        data += chunk
    return bytes(data)


def _probe_line(port: serial.SerialBase, where: str, timeout: float) -> ProbeResult:
    port.reset_input_buffer()
    port.write(bytes.fromhex("81 09 00 02 ff"))                 # CAM_VersionInq to camera 1
    reply = _read_line_until(port, re.compile(rb"\x90\x50.{7}\xff", re.S), timeout)
    m = re.search(rb"\x90\x50.{7}\xff", reply, re.S)
    if m:
        return _visca_version(ProbeResult(where, False, transport="serial"), m.group(0), reply.hex(" "))
    port.reset_input_buffer()
    # A CR ends whatever the VISCA bytes left on a text console; a unit with a serial login asks
    # for its password now (we never try one), one without shows its prompt.
    port.write(b"\r")
    reply = _read_line_until(port, re.compile(rb"Password:\s*$|-> $"), min(timeout, 1.0))
    if not re.search(rb"Password:\s*$", reply):
        port.reset_input_buffer()
        port.write(b"whoami\r")                                   # Polycom API (HDX / Group)
        reply = _read_line_until(port, re.compile(rb"Hi, my name is[\s\S]*-> $|Password:\s*$"), timeout + 1.0)
    res = ProbeResult(where, True, transport="serial", evidence=reply[:200].decode("latin-1", "replace"))
    if b"Hi, my name is" in reply:
        return _polycom(_Buffered(reply), res, reply, 0.0, ask=False)
    if re.search(rb"Password:\s*$", reply):
        res.protocol, res.driver, res.vendor = "polycom-api", "polycom-hdx", "Polycom"
        res.note = "Polycom serial login: a password is needed to read model and serial"
        return res
    port.reset_input_buffer()
    port.write(b"Q")                                              # Extron firmware query
    reply = _read_line_until(port, re.compile(rb"\r\n"), timeout)
    text = reply.decode("latin-1", "replace").strip().splitlines()[-1:] or [""]
    if re.fullmatch(r"\d+\.\d+(\.\d+)*", text[0]):
        _extron_found(res, text[0])
        res.note = "model from the power-up banner only"
        return res
    return ProbeResult(where, False, transport="serial", note="silent: no VISCA, Polycom or Extron answer")


class _Buffered(_Conn):
    """What a serial exchange already read, for the shared welcome parser."""

    def __init__(self, data: bytes) -> None:  # noqa: D107 - no socket behind it
        self.data = bytearray()

    def listen(self, seconds: float, until: re.Pattern[bytes] | None = None) -> bytes:
        return b""
