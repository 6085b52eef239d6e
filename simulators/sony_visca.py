"""A Sony VISCA PTZ camera on RS-232 (a pty, paced at the baud rate) and/or VISCA over IP (UDP).

Written from the protocol notes (``protocols.md`` section 3), not from the driver:

- packets ``8x ... FF`` (x = camera address; ``88`` broadcast); replies ``z0 ...`` with
  z = address + 8: ACK ``z0 4y FF``, completion ``z0 5y FF``, inquiry answer ``z0 50 .. FF``;
- two command sockets: a command that takes time (preset recall, home, absolute move, power on)
  holds its socket until it completes; a third gets ``z0 60 03 FF`` (buffer full);
- errors ``60 01`` length, ``60 02`` syntax, ``6y 04`` canceled, ``6y 05`` no socket,
  ``6y 41`` not executable (power-up window, standby, manual focus while AF is on);
- serial admin: Address Set ``88 30 01 FF`` -> ``88 30 02 FF``; IF_Clear broadcast echoed;
  ``z0 38 FF`` (network change) is sent when a serial line comes up after a boot;
- VISCA over IP on UDP 52381: 8-byte header (type, length, sequence), replies echo the
  sequence; control RESET ``02 00 / 01`` -> ``02 01 / 01``; a sequence number that is neither
  the last one nor the next gets the control error ``0F 01``; a malformed header ``0F 02``.
  A repeated sequence number gets the replies already sent for it again, without executing
  the command twice **[unverified: how real cameras treat a resend]**.

Options (``SimSpec.options``), with defaults: ``visca_address`` 1, ``preset_time`` 0.5 s,
``home_time`` 0.5 s, ``move_time`` 0.3 s, ``power_on_time`` 1.0 s, ``power_up_window`` 0.0 s
(after a boot, commands answer ``41`` this long), ``max_presets`` 16, ``vendor_id`` 0x0001,
``model_id`` 0x0513 (SRG-300H), ``rom`` 0x0100, ``serve`` ("serial", "udp" or "both"; default
from ``SimSpec.transport``).

Fault knobs: the common ones (``lossy`` drops datagrams both ways) plus ``power-up=SECONDS``
(commands answer ``6y 41`` for that long, as while powering up) and ``busy`` (both sockets held
until the knob is cleared, so commands get ``60 03``). Quirks of real units, off by default:
``coalesce`` (over IP, ACK and completion of a quick command in one datagram) and
``if-clear-error`` (IF_Clear answered ``60 02``).

Power: CAM_Power On while the camera is on completes at once; while it is powering up, a
repeated one is answered ``61 41`` (not executable) without taking a socket.

Inquiries: power, version, pan/tilt, zoom, focus mode, focus position (``04 48``), exposure mode
(``04 39``), white balance (``04 35``) and backlight (``04 33``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Self

from simulators.harness import (
    ConnectionClosed,
    DeviceSimulator,
    PtyServer,
    Server,
    SimConnection,
    UdpServer,
)
from simulators.spec import SimSpec

VISCA_IP_PORT = 52381

T_COMMAND, T_INQUIRY, T_REPLY, T_SETTING = b"\x01\x00", b"\x01\x10", b"\x01\x11", b"\x01\x20"
T_CONTROL, T_CONTROL_REPLY = b"\x02\x00", b"\x02\x01"

Emit = Callable[[bytes], None]

#: Quirks of real units (off by default: the simulator is faithful without them).
#: ``coalesce``: over IP, the ACK and the completion of a quick command come in one datagram;
#: ``if-clear-error``: IF_Clear is answered with a syntax error (``60 02``).
QUIRKS = ("coalesce", "if-clear-error")


def nibbles(value: int, count: int = 4) -> bytes:
    value &= (1 << (4 * count)) - 1
    return bytes((value >> (4 * (count - 1 - i))) & 0x0F for i in range(count))


def from_nibbles(data: bytes) -> int:
    out = 0
    for b in data:
        out = (out << 4) | (b & 0x0F)
    return out


def _rom_from(firmware: object, default: object) -> int:
    """The ROM revision word from an identity firmware string ("0100" hex) or the option."""
    try:
        return int(str(firmware), 16) & 0xFFFF if firmware else int(str(default), 0)
    except ValueError:
        return int(str(default), 0)


def signed16(value: int) -> int:
    return value - 0x10000 if value & 0x8000 else value


class ViscaCameraSimulator(DeviceSimulator):
    default_boot_time = 1.0

    def __init__(self, *, host: str = "127.0.0.1", port: int = VISCA_IP_PORT, serve: str = "serial",
                 baudrate: int = 9600, serial_link: str | None = None, visca_address: int = 1,
                 preset_time: float = 0.5, home_time: float = 0.5, move_time: float = 0.3,
                 power_on_time: float = 1.0, power_up_window: float = 0.0, max_presets: int = 16,
                 vendor_id: int = 0x0001, model_id: int = 0x0513, rom: int = 0x0100, **kw: Any) -> None:
        super().__init__(host=host, port=port, **kw)
        if serve not in ("serial", "udp", "both"):
            raise ValueError(f"serve must be serial, udp or both, not {serve!r}")
        self.serve = serve
        self.baudrate = baudrate
        self.serial_link = serial_link
        self.address = visca_address
        self.preset_time = preset_time
        self.home_time = home_time
        self.move_time = move_time
        self.power_on_time = power_on_time
        self.power_up_window = power_up_window
        self.max_presets = max_presets
        self.version = (vendor_id, model_id, rom)
        self.camera_on = True
        self.power_up_until = 0.0
        self.focus_auto = True
        self.pan = self.tilt = 0
        self.zoom = 0
        self.presets: dict[int, tuple[int, int, int]] = {}
        self.busy_knob = False
        self.jobs: dict[int, threading.Event] = {}     # socket -> cancel flag
        self.job_kinds: dict[int, str] = {}            # socket -> what runs there
        self.focus_position = 0x1000                   # what the four picture inquiries read
        self.exposure_mode = 0x00  # 00 auto 03 manual 0A shutter 0B iris 0D bright
        self.white_balance = 0x00  # 00 auto 01 indoor 02 outdoor 03 one push 05 manual
        self.backlight = False
        self.commands_executed: list[str] = []
        self._state = threading.RLock()
        self._drive = (0, 0, 0.0)                      # pan dir, tilt dir, since
        self._udp_last_seq: int | None = None
        self._udp_sent: list[bytes] = []               # replies sent for the last sequence number
        self._serial_sessions = 0

    @classmethod
    def from_spec(cls, spec: SimSpec, site: object | None = None) -> Self:
        o = spec.options
        serve = o.get("serve") or ("udp" if spec.transport == "udp" else "serial")
        ident = spec.identity
        return cls(
            name=spec.device_id, host=spec.host, port=spec.port or VISCA_IP_PORT, serve=serve,
            baudrate=spec.baudrate, serial_link=spec.serial_link or None, boot_time=spec.boot_time,
            visca_address=int(o.get("visca_address", 1)), preset_time=float(o.get("preset_time", 0.5)),
            home_time=float(o.get("home_time", 0.5)), move_time=float(o.get("move_time", 0.3)),
            power_on_time=float(o.get("power_on_time", 1.0)),
            power_up_window=float(o.get("power_up_window", 0.0)), max_presets=int(o.get("max_presets", 16)),
            vendor_id=int(o.get("vendor_id", 0x0001)), model_id=int(o.get("model_id", 0x0513)),
            rom=_rom_from(ident.get("firmware"), o.get("rom", 0x0100)),
        )

    def build_servers(self) -> list[Server]:
        servers: list[Server] = []
        if self.serve in ("serial", "both"):
            servers.append(PtyServer(self, baudrate=self.baudrate, link=self.serial_link))
        if self.serve in ("udp", "both"):
            servers.append(UdpServer(self, self.host, self.port))
        return servers

    @property
    def serial_path(self) -> str:
        for server in self.servers:
            if isinstance(server, PtyServer):
                return server.path
        raise LookupError("this camera serves no serial line")

    @property
    def udp_port(self) -> int:
        for server in self.servers:
            if isinstance(server, UdpServer):
                return server.port
        raise LookupError("this camera serves no UDP port")

    # -- lifecycle hooks ---------------------------------------------------------------------------
    def on_shutdown(self) -> None:
        with self._state:
            for flag in self.jobs.values():
                flag.set()
            self.jobs.clear()
            self._udp_last_seq = None
            self._udp_sent = []

    def on_boot(self) -> None:
        with self._state:
            self.camera_on = True
            self.power_up_until = time.monotonic() + self.power_up_window

    def set_protocol_fault(self, knob: str, value: str) -> None:
        if knob == "power-up":
            self.power_up_until = time.monotonic() + float(value or 2.0)
        elif knob == "busy":
            self.busy_knob = value not in ("0", "off", "false")
        elif knob in QUIRKS:
            self.faults.extra[knob] = "1"
        else:
            super().set_protocol_fault(knob, value)

    def clear_faults(self) -> None:
        super().clear_faults()
        self.power_up_until = 0.0
        self.busy_knob = False

    # -- serial --------------------------------------------------------------------------------------
    def handle_connection(self, conn: SimConnection) -> None:
        lock = threading.Lock()

        def emit(data: bytes) -> None:
            with lock:
                conn.send(data)

        self._serial_sessions += 1
        if self.boot_count > 0 and self._serial_sessions > 1:
            emit(bytes((self._z(), 0x38, 0xFF)))  # network change: the line came back after a boot
        while True:
            packet = conn.read_until(b"\xff")
            self.process(packet, emit, over_ip=False)

    # -- VISCA over IP -------------------------------------------------------------------------------
    def handle_datagram(self, data: bytes, reply: Callable[[bytes], None]) -> None:
        seq = int.from_bytes(data[4:8], "big") if len(data) >= 8 else 0
        if len(data) < 9:
            reply(self._control_error(seq, 0x02))
            return
        ptype, length, payload = data[0:2], int.from_bytes(data[2:4], "big"), data[8:]
        if length != len(payload) or not 1 <= length <= 16:
            reply(self._control_error(seq, 0x02))
            return
        if ptype == T_CONTROL:
            if payload == b"\x01":
                with self._state:
                    self._udp_last_seq = None
                    self._udp_sent = []
                reply(T_CONTROL_REPLY + b"\x00\x01" + data[4:8] + b"\x01")
            else:
                reply(self._control_error(seq, 0x02))
            return
        if ptype not in (T_COMMAND, T_INQUIRY, T_SETTING):
            reply(self._control_error(seq, 0x02))
            return
        with self._state:
            last = self._udp_last_seq
            if last is not None and seq == last:
                for sent in list(self._udp_sent):   # a resend: answer again, do not execute twice
                    reply(sent)
                return
            if last is not None and seq != (last + 1) & 0xFFFFFFFF:
                reply(self._control_error(seq, 0x01))
                return
            self._udp_last_seq = seq
            self._udp_sent = []

        def emit(visca: bytes, _seq: int = seq) -> None:
            message = T_REPLY + len(visca).to_bytes(2, "big") + _seq.to_bytes(4, "big") + visca
            with self._state:
                if self._udp_last_seq == _seq:
                    self._udp_sent.append(message)
            reply(message)

        self.process(payload, emit, over_ip=True)

    @staticmethod
    def _control_error(seq: int, code: int) -> bytes:
        return T_CONTROL_REPLY + b"\x00\x02" + seq.to_bytes(4, "big") + bytes((0x0F, code))

    # -- VISCA ---------------------------------------------------------------------------------------
    def _z(self) -> int:
        return (self.address + 8) << 4

    def process(self, packet: bytes, emit: Emit, *, over_ip: bool) -> None:
        if len(packet) < 3 or packet[-1] != 0xFF:
            return
        head = packet[0]
        if head == 0x88 and not over_ip:
            self._broadcast(packet, emit)
            return
        if head & 0xF8 != 0x80 or (head & 0x07) != (1 if over_ip else self.address):
            return  # not for this camera (another one on the daisy chain)
        z = self._z() if not over_ip else 0x90
        if len(packet) > 16:
            emit(bytes((z, 0x60, 0x01, 0xFF)))
            return
        body = packet[1:-1]
        if len(body) == 1 and body[0] & 0xF0 == 0x20:
            self._cancel(body[0] & 0x0F, z, emit)
        elif body == b"\x01\x00\x01":
            if "if-clear-error" in self.faults.extra:
                emit(bytes((z, 0x60, 0x02, 0xFF)))
                return
            self._if_clear()
            emit(bytes((z, 0x50, 0xFF)))
        elif body[:1] == b"\x09":
            data = self._inquiry(body[1:])
            emit(bytes((z, 0x60, 0x02, 0xFF)) if data is None else bytes((z, 0x50)) + data + b"\xff")
        elif body[:1] == b"\x01":
            self._command(body[1:], z, emit, coalesce=over_ip and "coalesce" in self.faults.extra)
        else:
            emit(bytes((z, 0x60, 0x02, 0xFF)))

    def _broadcast(self, packet: bytes, emit: Emit) -> None:
        if packet == b"\x88\x30\x01\xff":
            self.address = 1  # first camera of the chain
            emit(b"\x88\x30\x02\xff")
        elif packet == b"\x88\x01\x00\x01\xff":
            self._if_clear()
            emit(packet)

    def _if_clear(self) -> None:
        with self._state:
            for flag in self.jobs.values():
                flag.set()
            self.jobs.clear()

    def _cancel(self, socket_no: int, z: int, emit: Emit) -> None:
        with self._state:
            flag = self.jobs.pop(socket_no, None)
        if flag is None:
            emit(bytes((z, 0x60 | socket_no, 0x05, 0xFF)))
        else:
            flag.set()
            emit(bytes((z, 0x60 | socket_no, 0x04, 0xFF)))

    def _inquiry(self, q: bytes) -> bytes | None:
        with self._state:
            self._settle()
            if q == b"\x04\x00":
                return b"\x02" if self.camera_on else b"\x03"
            if q == b"\x00\x02":
                vendor, model, rom = self.version
                return vendor.to_bytes(2, "big") + model.to_bytes(2, "big") + rom.to_bytes(2, "big") + b"\x02"
            if q == b"\x06\x12":
                return nibbles(self.pan) + nibbles(self.tilt)
            if q == b"\x04\x47":
                return nibbles(self.zoom)
            if q == b"\x04\x38":
                return b"\x02" if self.focus_auto else b"\x03"
            if q == b"\x04\x48":                          # CAM_FocusPosInq -> 0p 0q 0r 0s
                return nibbles(self.focus_position)
            if q == b"\x04\x39":                          # CAM_AEModeInq
                return bytes((self.exposure_mode,))
            if q == b"\x04\x35":                          # CAM_WBModeInq
                return bytes((self.white_balance,))
            if q == b"\x04\x33":                          # CAM_BackLightModeInq: 02 on, 03 off
                return b"\x02" if self.backlight else b"\x03"
        return None

    def _parse(self, c: bytes) -> tuple[str, Callable[[], None], float] | None:
        """A command body (after ``01``) -> (kind, effect, seconds it takes), None = syntax error."""
        if c == b"\x04\x00\x02":
            return "power", self._power_on_done, self.power_on_time
        if c == b"\x04\x00\x03":
            return "power", self._power_off, 0.0
        if len(c) == 4 and c[:2] == b"\x04\x3f" and c[2] in (0, 1, 2) and c[3] < self.max_presets:
            action, preset = c[2], c[3]
            if action == 2:
                return "preset", lambda: self._recall_preset(preset), self.preset_time
            if action == 1:
                return "preset", lambda: self._store_preset(preset), 0.0
            return "preset", lambda: self._forget_preset(preset), 0.0
        if c in (b"\x06\x04", b"\x06\x05"):
            return "move", lambda: self._goto(0, 0, self.zoom), self.home_time
        if len(c) == 6 and c[:2] == b"\x06\x01":
            vv, ww, pp, tt = c[2:]
            if not (1 <= vv <= 0x18 and 1 <= ww <= 0x17 and pp in (1, 2, 3) and tt in (1, 2, 3)):
                return None
            return "drive", lambda: self._set_drive(pp, tt), 0.0
        if len(c) == 12 and c[:2] in (b"\x06\x02", b"\x06\x03") and all(b < 0x10 for b in c[4:]):
            pan, tilt = signed16(from_nibbles(c[4:8])), signed16(from_nibbles(c[8:12]))
            if c[1] == 0x03:
                return "move", lambda: self._goto(self.pan + pan, self.tilt + tilt, self.zoom), self.move_time
            return "move", lambda: self._goto(pan, tilt, self.zoom), self.move_time
        if len(c) == 3 and c[:2] == b"\x04\x07" and (c[2] in (0, 2, 3) or c[2] >> 4 in (2, 3)):
            step = {0: 0, 2: 0x400, 3: -0x400}.get(c[2], 0x400 if c[2] >> 4 == 2 else -0x400)
            return "zoom", lambda: self._goto(self.pan, self.tilt, self.zoom + step), 0.0
        if len(c) == 6 and c[:2] == b"\x04\x47" and all(b < 0x10 for b in c[2:]):
            return "zoom", lambda: self._goto(self.pan, self.tilt, from_nibbles(c[2:])), self.move_time
        if len(c) == 3 and c[:2] == b"\x04\x38" and c[2] in (0x02, 0x03, 0x10):
            return "focus", lambda: self._set_focus(c[2]), 0.0
        if len(c) == 3 and c[:2] == b"\x04\x08" and (c[2] in (0, 2, 3) or c[2] >> 4 in (2, 3)):
            return "focus-drive", lambda: None, 0.0
        return None

    def _command(self, c: bytes, z: int, emit: Emit, *, coalesce: bool = False) -> None:
        parsed = self._parse(c)
        if parsed is None:
            emit(bytes((z, 0x60, 0x02, 0xFF)))
            return
        kind, effect, seconds = parsed
        with self._state:
            if kind == "power" and c == b"\x04\x00\x02":
                if any(self.job_kinds.get(s) == "power" for s in self.jobs):
                    # Powering up already: a repeated power-on is not executable, it takes no
                    # socket (a third would otherwise find the buffer full) [Sony-FCB].
                    emit(bytes((z, 0x61, 0x41, 0xFF)))
                    return
                if self.camera_on and time.monotonic() >= self.power_up_until:
                    seconds = 0.0          # already on: nothing to wait for
            free = [s for s in (1, 2) if s not in self.jobs]
            if self.busy_knob or not free:
                emit(bytes((z, 0x60, 0x03, 0xFF)))
                return
            sock = free[0]
            not_executable = (
                time.monotonic() < self.power_up_until and kind != "power"
                or not self.camera_on and kind != "power"
                or kind == "focus-drive" and self.focus_auto
            )
            if not_executable:
                emit(bytes((z, 0x60 | sock, 0x41, 0xFF)))
                return
            self.commands_executed.append(c.hex(" "))
            if seconds <= 0:
                effect()
                ack, done = bytes((z, 0x40 | sock, 0xFF)), bytes((z, 0x50 | sock, 0xFF))
                if coalesce:
                    emit(ack + done)
                else:
                    emit(ack)
                    emit(done)
                return
            cancel = threading.Event()
            self.jobs[sock] = cancel
            self.job_kinds[sock] = kind
            if kind == "power":
                self.power_up_until = time.monotonic() + seconds
            emit(bytes((z, 0x40 | sock, 0xFF)))
        self._start_job(sock, cancel, effect, seconds, z, emit)

    def _start_job(self, sock: int, cancel: threading.Event, effect: Callable[[], None], seconds: float,
                   z: int, emit: Emit) -> None:
        generation = self.session_generation

        def run() -> None:
            try:
                self.wait(seconds)  # motion or power-up time
                with self._state:
                    if cancel.is_set() or self.stopping or generation != self.session_generation:
                        return
                    self.jobs.pop(sock, None)
                    self.job_kinds.pop(sock, None)
                    effect()
                emit(bytes((z, 0x50 | sock, 0xFF)))
            except ConnectionClosed:
                pass  # the host went away mid-motion; the camera finishes silently
            finally:
                with self._lock:
                    self._threads.discard(threading.current_thread())

        t = threading.Thread(target=run, name=f"sim-visca-job-{self.name}-{sock}", daemon=True)
        with self._lock:
            self._threads.add(t)
        t.start()

    # -- effects -------------------------------------------------------------------------------------
    def _power_on_done(self) -> None:
        self.camera_on = True

    def _power_off(self) -> None:
        self.camera_on = False
        self._drive = (0, 0, 0.0)

    def _recall_preset(self, preset: int) -> None:
        # An empty preset memory recalls the home position.
        self._goto(*self.presets.get(preset, (0, 0, self.zoom)))

    def _store_preset(self, preset: int) -> None:
        self._settle()
        self.presets[preset] = (self.pan, self.tilt, self.zoom)

    def _forget_preset(self, preset: int) -> None:
        self.presets.pop(preset, None)

    def _set_focus(self, mode: int) -> None:
        if mode == 0x10:
            self.focus_auto = not self.focus_auto
        else:
            self.focus_auto = mode == 0x02

    def _goto(self, pan: int, tilt: int, zoom: int) -> None:
        self._drive = (0, 0, 0.0)
        self.pan = max(-0x0990, min(0x0990, pan))
        self.tilt = max(-0x0510, min(0x0510, tilt))
        self.zoom = max(0, min(0x4000, zoom))

    def _set_drive(self, pp: int, tt: int) -> None:
        self._settle()
        direction = {1: -1, 2: 1, 3: 0}
        tilt_dir = {1: 1, 2: -1, 3: 0}
        self._drive = (direction[pp], tilt_dir[tt], time.monotonic())

    def _settle(self) -> None:
        """Integrate a running pan/tilt drive into the position (about 0x200 units per second)."""
        pan_dir, tilt_dir, since = self._drive
        if pan_dir or tilt_dir:
            now = time.monotonic()
            moved = int((now - since) * 0x200)
            self._goto(self.pan + pan_dir * moved, self.tilt + tilt_dir * moved, self.zoom)
            self._drive = (pan_dir, tilt_dir, now)
