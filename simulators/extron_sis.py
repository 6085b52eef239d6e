"""Extron SIS devices on Telnet (port 23) or RS-232: a matrix switcher of configurable size and a
streaming/recording processor of the SMP 351 kind that writes a real file per recording.

Written from the protocol notes (``protocols.md`` section 4) and the SMP 300-series SIS tables,
not from the driver:

- on connect (Telnet) or power-up (RS-232): ``(c) Copyright YYYY, Extron Electronics, <model>,
  Vn.nn, 60-nnnn-nn`` and a date line; with a password, ``Password:`` follows and a right answer
  gets ``Login Administrator`` / ``Login User``, a wrong one the prompt again;
- commands execute when their last character arrives (``1*2!``, ``I``, ``3.``); Escape commands
  run from ``Esc`` to CR (or ``|``); replies end CR LF; errors are ``Exx``;
- verbose mode per connection (``Esc n CV CR`` -> ``Vrbn``): 0 on Telnet, 1 on RS-232; modes 1
  and 3 get unsolicited messages (front-panel ``Qik``, ``Rprnn``, ``RcdrYn``); modes 2 and 3 tag
  query answers (``Out2 In1 Vid``, ``Inf35*...``) **[tag format of tie views unverified]**.
- ``Esc 1BOOT CR`` -> ``Boot1``, then the unit reboots (sessions dropped, connections refused).

Switcher options: ``inputs`` 8, ``outputs`` 8, ``presets`` 32, ``model`` "DXP 88 HDMI", ``part``
"60-882-01", ``user_password`` (empty), ``idle_timeout`` 300 s. Recorder options:
``recordings_dir`` (a temp dir), ``file_prefix`` "SMP351", ``model`` "SMP 351", ``part``
"60-1324-01", ``free_kb`` 400000000. Shared: ``firmware`` "1.13".

Quirks of real units and gateways (off by default: the simulator is faithful without them):
``no-banner`` (no copyright banner on connect), ``no-verbose`` (``Esc n CV`` changes the mode
but is not answered).

Fault knobs: the common ones, plus ``storage-missing`` on the recorder (record start answers
``E25`` device not present — the code a real SMP uses here is **[unverified]**).
"""

from __future__ import annotations

import contextlib
import re
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Self

from simulators.harness import DeviceSimulator, PtyServer, Server, SimConnection, TcpServer
from simulators.spec import SimSpec

ESC, CR, LF = "\x1b", "\r", "\n"
SIMPLE_TERMINATORS = set("!&%$.,INQSBZ")
PLANE_NAMES = {"!": "All", "&": "RGB", "%": "Vid", "$": "Aud"}
TELNET_PORT = 23


#: Form variations of real units the drivers tolerate (see the module docstring).
QUIRKS = ("no-banner", "no-verbose")


class ExtronSisSimulator(DeviceSimulator):
    """Session handling common to every SIS device: banner, login, parser, verbose mode."""

    default_boot_time = 1.0
    model = "Extron device"
    part = "60-000-00"
    description = "Extron device"

    def __init__(self, *, host: str = "127.0.0.1", port: int = TELNET_PORT, serial: bool = False,
                 baudrate: int = 9600, serial_link: str | None = None, password: str = "",
                 user_password: str = "", model: str | None = None, part: str | None = None,
                 firmware: str = "1.13", idle_timeout: float = 300.0, **kw: Any) -> None:
        super().__init__(host=host, port=port, password=password, **kw)
        self.serial = serial
        self.baudrate = baudrate
        self.serial_link = serial_link
        self.user_password = user_password
        self.model = model or self.model
        self.part = part or self.part
        self.firmware = firmware
        self.idle_timeout = idle_timeout
        self.device_name = self.model.replace(" ", "-")
        self.ip_address = host
        self.subnet = "255.255.255.0"
        self.gateway = "0.0.0.0"
        self._banner_due = True   # RS-232 shows the banner once per power-up

    @staticmethod
    def _common_kwargs(spec: SimSpec) -> dict[str, Any]:
        o = spec.options
        kw: dict[str, Any] = {
            "name": spec.device_id, "host": spec.host, "port": spec.port,
            "serial": spec.transport == "serial",
            "baudrate": spec.baudrate, "serial_link": spec.serial_link or None, "password": spec.password,
            "user_password": str(o.get("user_password", "")), "boot_time": spec.boot_time,
            "firmware": spec.identity.get("firmware", str(o.get("firmware", "1.13"))),
            "idle_timeout": float(o.get("idle_timeout", 300.0)),
        }
        if spec.identity.get("model") or o.get("model"):
            kw["model"] = spec.identity.get("model") or str(o["model"])
        if o.get("part"):
            kw["part"] = str(o["part"])
        return kw

    def build_servers(self) -> list[Server]:
        if self.serial:
            return [PtyServer(self, baudrate=self.baudrate, link=self.serial_link)]
        return [TcpServer(self, self.host, self.port, telnet=True)]

    @property
    def serial_path(self) -> str:
        return self.servers[0].path  # type: ignore[attr-defined]

    @property
    def tcp_port(self) -> int:
        return self.servers[0].port  # type: ignore[attr-defined]

    def on_boot(self) -> None:
        self._banner_due = True

    def set_protocol_fault(self, knob: str, value: str) -> None:
        if knob in QUIRKS:
            self.faults.extra[knob] = "1"
        else:
            super().set_protocol_fault(knob, value)

    # -- session -------------------------------------------------------------------------------------
    def banner(self) -> str:
        year = time.strftime("%Y")
        stamp = time.strftime("%a, %d %b %Y %H:%M:%S")
        return (f"(c) Copyright {year}, Extron Electronics, {self.model}, V{self.firmware}, {self.part}\r\n"
                f"{stamp}\r\n")

    def handle_connection(self, conn: SimConnection) -> None:
        conn.state["verbose"] = 1 if self.serial else 0
        conn.state["lock"] = threading.Lock()
        if (not self.serial or self._banner_due) and "no-banner" not in self.faults.extra:
            self._banner_due = False
            self.reply(conn, self.banner())
        if not self.serial:
            level = self._login(conn)
            if level is None:
                return
            conn.state["level"] = level
        else:
            conn.state["level"] = "Administrator"
        self._command_loop(conn)

    def _login(self, conn: SimConnection) -> str | None:
        if not self.password and not self.user_password:
            return "Administrator"
        while True:
            self.reply(conn, "\r\nPassword:")
            try:
                line = conn.read_until(re.compile(rb"[\r\n]"), timeout=self.idle_timeout)
            except TimeoutError:
                return None
            answer = line.rstrip(b"\r\n").decode("latin-1")
            if self.faults.reject_password:
                continue
            if answer == self.password or not self.password and answer == self.user_password:
                self.reply(conn, "\r\nLogin Administrator\r\n")
                return "Administrator"
            if self.user_password and answer == self.user_password:
                self.reply(conn, "\r\nLogin User\r\n")
                return "User"

    def _command_loop(self, conn: SimConnection) -> None:
        buf = ""
        escape = False
        while True:
            try:
                chunk = conn.read_some(timeout=self.idle_timeout)
            except TimeoutError:
                return  # idle timeout: the unit hangs up
            for ch in chunk.decode("latin-1"):
                if escape:
                    if ch in (CR, "|"):
                        escape = False
                        answer = self.escape_command(conn, buf)
                        quiet = "no-verbose" in self.faults.extra and re.fullmatch(r"\d?CV", buf.upper())
                        if not quiet:
                            self.reply(conn, answer + "\r\n")
                        buf = ""
                    else:
                        buf += ch
                elif ch == ESC:
                    escape, buf = True, ""
                elif ch in (CR, LF, " "):
                    continue
                else:
                    buf += ch
                    if ch.upper() in SIMPLE_TERMINATORS:
                        self.reply(conn, self.simple_command(conn, buf.upper()) + "\r\n")
                        buf = ""
                    elif not (ch.isdigit() or ch == "*"):
                        self.reply(conn, "E10\r\n")
                        buf = ""

    def reply(self, conn: SimConnection, text: str) -> None:
        lock = conn.state.get("lock")
        if lock is None:
            conn.send(text)
            return
        with lock:  # type: ignore[attr-defined]  # session thread and broadcasts share the socket
            conn.send(text)

    def spawn_helper(self, target: Any, *args: Any) -> None:
        """A short-lived helper thread the simulator joins on stop."""

        def run() -> None:
            try:
                target(*args)
            finally:
                with self._lock:
                    self._threads.discard(threading.current_thread())

        t = threading.Thread(target=run, name=f"sim-extron-{self.name}", daemon=True)
        with self._lock:
            self._threads.add(t)
        t.start()

    def broadcast(self, text: str) -> None:
        """An unsolicited message to every session in verbose mode 1 or 3."""
        for conn in self.iter_sessions():
            if conn.state.get("verbose") in (1, 3) and conn.state.get("level"):
                with contextlib.suppress(Exception):
                    self.reply(conn, text + "\r\n")

    @staticmethod
    def tagged(conn: SimConnection) -> bool:
        return conn.state.get("verbose") in (2, 3)

    # -- commands -------------------------------------------------------------------------------------
    def simple_command(self, conn: SimConnection, cmd: str) -> str:
        if cmd == "N":
            return self.part
        if cmd == "Q" or cmd == "1Q":
            return self.firmware
        if cmd == "*Q":
            return f"{self.firmware}.0001"
        if cmd == "S":
            return "3.29 4.85 12.06 38.5 02100 1"  # voltages, temperature, fan rpm, PSU ok
        if cmd == "2I":
            return self.description
        if cmd == "1I":
            return self.model
        return "E10"

    def escape_command(self, conn: SimConnection, body: str) -> str:
        upper = body.upper()
        admin = conn.state.get("level") == "Administrator"
        m = re.fullmatch(r"(\d)?CV", upper)
        if m:
            if m.group(1) is None:
                return str(conn.state["verbose"])
            mode = int(m.group(1))
            if mode > 3:
                return "E13"
            conn.state["verbose"] = mode
            return f"Vrb{mode}"
        m = re.fullmatch(r"([12])BOOT", upper)
        if m:
            if not admin:
                return "E24"
            if m.group(1) == "1":
                self.spawn_helper(self._reboot_after_reply)
            return f"Boot{m.group(1)}"
        m = re.fullmatch(r"(.*)(CN|CI|CS|CG)", body, flags=re.IGNORECASE)
        if m:
            return self._network_setting(m.group(1), m.group(2).upper(), admin)
        return "E10"

    def _reboot_after_reply(self) -> None:
        self.wait(0.05)  # let the Boot1 reply leave before the unit goes away
        if not self.stopping:
            self.reboot()

    def _network_setting(self, value: str, verb: str, admin: bool) -> str:
        attr, tag = {"CN": ("device_name", "Ipn"), "CI": ("ip_address", "Ipi"), "CS": ("subnet", "Ips"),
                     "CG": ("gateway", "Ipg")}[verb]
        if not value:
            return str(getattr(self, attr))
        if not admin:
            return "E24"
        if verb != "CN" and not re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", value):
            return "E13"
        setattr(self, attr, value)
        if verb == "CI" and not self.serial:
            # Only the network side moves: an RS-232 session goes on undisturbed.
            self.spawn_helper(self._move_after_reply, value)
        return f"{tag} {value}"

    def _move_after_reply(self, host: str) -> None:
        self.wait(0.05)
        if not self.stopping:
            self.move_to(host)


class ExtronSwitcherSimulator(ExtronSisSimulator):
    """A matrix switcher (DXP / XTP kind): ties per plane, global presets, mutes."""

    model = "DXP 88 HDMI"
    part = "60-882-01"
    description = "Matrix Switcher"

    def __init__(self, *, inputs: int = 8, outputs: int = 8, presets: int = 32, **kw: Any) -> None:
        super().__init__(**kw)
        self.inputs = inputs
        self.outputs = outputs
        self.max_presets = presets
        self.video = dict.fromkeys(range(1, outputs + 1), 0)
        self.audio = dict.fromkeys(range(1, outputs + 1), 0)
        self.video_mute = dict.fromkeys(range(1, outputs + 1), 0)
        self.audio_mute = dict.fromkeys(range(1, outputs + 1), 0)
        self.presets: dict[int, tuple[dict[int, int], dict[int, int]]] = {}
        self._ties = threading.Lock()

    @classmethod
    def from_spec(cls, spec: SimSpec, site: object | None = None) -> Self:
        o = spec.options
        return cls(inputs=int(o.get("inputs", 8)), outputs=int(o.get("outputs", 8)),
                   presets=int(o.get("presets", 32)), **cls._common_kwargs(spec))

    # front panel: unsolicited messages ---------------------------------------------------------------
    def front_panel_tie(self, input: int, output: int) -> None:
        with self._ties:
            self.video[output] = self.audio[output] = input
        self.broadcast("Qik")

    def front_panel_preset(self, preset: int) -> None:
        with self._ties:
            if preset in self.presets:
                video, audio = self.presets[preset]
                self.video.update(video)
                self.audio.update(audio)
        self.broadcast(f"Rpr{preset:02d}")

    def simple_command(self, conn: SimConnection, cmd: str) -> str:
        if cmd == "I":
            return f"V{self.inputs}X{self.outputs} A{self.inputs}X{self.outputs}"
        plane = cmd[-1]
        args = cmd[:-1]
        if plane in PLANE_NAMES:
            return self._tie_or_view(conn, args, plane)
        if plane in ".,":
            return self._preset(args, recall=plane == ".")
        if plane in "BZ":
            return self._mute(args, video=plane == "B")
        return super().simple_command(conn, cmd)

    def _tie_or_view(self, conn: SimConnection, args: str, plane: str) -> str:
        m = re.fullmatch(r"(\d{1,3})\*(\d{1,3})?", args)
        if m:
            source = int(m.group(1))
            if source > self.inputs:
                return "E01"
            if m.group(2) is None:  # X*! : to every output
                with self._ties:
                    for out in self.video:
                        self._tie(source, out, plane)
                return f"In{source} {PLANE_NAMES[plane]}"
            out = int(m.group(2))
            if not 1 <= out <= self.outputs:
                return "E12"
            with self._ties:
                self._tie(source, out, plane)
            return f"Out{out} In{source} {PLANE_NAMES[plane]}"
        if re.fullmatch(r"\d{1,3}", args):
            out = int(args)
            if not 1 <= out <= self.outputs:
                return "E12"
            source = self.audio[out] if plane == "$" else self.video[out]
            if self.tagged(conn):
                return f"Out{out} In{source} {PLANE_NAMES[plane]}"
            return str(source)
        return "E10"

    def _tie(self, source: int, out: int, plane: str) -> None:
        if plane in "!&%":
            self.video[out] = source
        if plane in "!$":
            self.audio[out] = source

    def _preset(self, args: str, recall: bool) -> str:
        if not args.isdigit():
            return "E10"
        n = int(args)
        if not 1 <= n <= self.max_presets or recall and n not in self.presets:
            return "E11"
        with self._ties:
            if recall:
                video, audio = self.presets[n]
                self.video.update(video)
                self.audio.update(audio)
            else:
                self.presets[n] = (dict(self.video), dict(self.audio))
        return f"{'Rpr' if recall else 'Spr'}{n:02d}"

    def _mute(self, args: str, video: bool) -> str:
        table, tag = (self.video_mute, "Vmt") if video else (self.audio_mute, "Amt")
        m = re.fullmatch(r"(\d{1,3})\*([01])?", args)
        if m:
            out = int(m.group(1))
            if not 1 <= out <= self.outputs:
                return "E12"
            if m.group(2) is None:
                return str(table[out])
            table[out] = int(m.group(2))
            return f"{tag}{out}*{m.group(2)}"
        if args in ("0", "1"):
            for out in table:
                table[out] = int(args)
            return f"{tag}{args}"
        if args == "":
            return " ".join(str(table[o]) for o in sorted(table))
        return "E13"

    def escape_command(self, conn: SimConnection, body: str) -> str:
        if body.upper().startswith("+Q"):
            return self._quick_ties(body[2:])
        return super().escape_command(conn, body)

    def _quick_ties(self, ties: str) -> str:
        parsed = re.findall(r"(\d{1,3})\*(\d{1,3})([!&%$])", ties)
        if not parsed or "".join(f"{a}*{b}{c}" for a, b, c in parsed) != ties:
            return "E10"
        for source, out, _plane in parsed:
            if int(source) > self.inputs:
                return "E01"
            if not 1 <= int(out) <= self.outputs:
                return "E12"
        with self._ties:
            for source, out, plane in parsed:
                self._tie(int(source), int(out), plane)
        return "Qik"


class ExtronRecorderSimulator(ExtronSisSimulator):
    """An SMP 351 kind of streaming media processor: record start / pause / stop writes a real file.

    SIS (SMP 300-series user guide): ``Esc Y1RCDR CR`` start -> ``RcdrY1``, ``Y0`` stop, ``Y2``
    pause; ``Esc YRCDR CR`` -> ``0|1|2``; ``35I`` elapsed ``HH:MM:SS`` (``Inf35*`` tagged); ``I``
    recording status ``<ChA1*ChB3>*<state>*<destination>*<free KB>*<elapsed>*<remaining>``;
    ``Esc LF CR`` lists files ``path/name date length`` ending with ``<n> Bytes Left`` and a
    blank line.
    """

    model = "SMP 351"
    part = "60-1324-01"
    description = "Streaming Media Processor"

    def __init__(self, *, recordings_dir: str | None = None, file_prefix: str = "SMP351",
                 free_kb: int = 400_000_000, **kw: Any) -> None:
        super().__init__(**kw)
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        if recordings_dir is None:
            self._tempdir = tempfile.TemporaryDirectory(prefix="roomops-smp-")
            recordings_dir = self._tempdir.name
        self.recordings_dir = Path(recordings_dir)
        self.recordings_dir.mkdir(parents=True, exist_ok=True)
        self.file_prefix = file_prefix
        self.free_kb = free_kb
        self.state = 0                 # 0 stop, 1 record, 2 pause
        self.current_file: Path | None = None
        self.channel_inputs = {1: 1, 2: 3}
        self._elapsed_banked = 0.0
        self._running_since: float | None = None
        self._rec = threading.Lock()
        self.storage_missing = False

    @classmethod
    def from_spec(cls, spec: SimSpec, site: object | None = None) -> Self:
        o = spec.options
        return cls(recordings_dir=o.get("recordings_dir"), file_prefix=str(o.get("file_prefix", "SMP351")),
                   free_kb=int(o.get("free_kb", 400_000_000)), **cls._common_kwargs(spec))

    def stop(self) -> None:
        super().stop()
        with self._rec:
            self._finish()
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    def set_protocol_fault(self, knob: str, value: str) -> None:
        if knob == "storage-missing":
            self.storage_missing = value not in ("0", "off", "false")
        else:
            super().set_protocol_fault(knob, value)

    def clear_faults(self) -> None:
        super().clear_faults()
        self.storage_missing = False

    def on_shutdown(self) -> None:
        with self._rec:
            self._finish()  # a reboot closes the file that was being written

    # -- recording ---------------------------------------------------------------------------------------
    def elapsed(self) -> float:
        running = time.monotonic() - self._running_since if self._running_since is not None else 0.0
        return self._elapsed_banked + running

    def _start(self) -> str:
        if self.storage_missing:
            return "E25"
        if self.state == 0:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            n = len(list(self.recordings_dir.glob("*.m4v"))) + 1
            self.current_file = self.recordings_dir / f"{self.file_prefix}_{stamp}_{n:03d}.m4v"
            with self.current_file.open("wb") as f:
                f.write(b"ROOMOPS-SIMULATED-RECORDING\n")
            self._elapsed_banked = 0.0
        if self.state != 1:
            self._running_since = time.monotonic()
        self.state = 1
        return "RcdrY1"

    def _pause(self) -> str:
        if self.state == 0:
            return "E13"  # nothing to pause
        if self.state == 1:
            self._bank()
        self.state = 2
        return "RcdrY2"

    def _bank(self) -> None:
        if self._running_since is not None:
            self._elapsed_banked += time.monotonic() - self._running_since
            self._running_since = None
        if self.current_file is not None:
            with self.current_file.open("ab") as f:
                f.write(f"segment until {self._elapsed_banked:.3f} s\n".encode())

    def _finish(self) -> None:
        if self.state != 0:
            self._bank()
        self.state = 0
        self.current_file = None

    def front_panel_record(self, state: int) -> None:
        with self._rec:
            {0: self._finish, 1: self._start, 2: self._pause}[state]()
        self.broadcast(f"RcdrY{state}")

    @staticmethod
    def hms(seconds: float) -> str:
        s = int(seconds)
        return f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}"

    # -- commands --------------------------------------------------------------------------------------
    def escape_command(self, conn: SimConnection, body: str) -> str:
        upper = body.upper()
        m = re.fullmatch(r"Y([012])?RCDR", upper)
        if m:
            with self._rec:
                if m.group(1) is None:
                    return str(self.state)
                if m.group(1) == "0":
                    self._finish()
                    return "RcdrY0"
                return self._start() if m.group(1) == "1" else self._pause()
        if upper == "LF":
            return self._listing()
        return super().escape_command(conn, body)

    def _listing(self) -> str:
        lines = []
        for path in sorted(self.recordings_dir.glob("*")):
            with contextlib.suppress(FileNotFoundError):
                st = path.stat()
                stamp = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(st.st_mtime))
                lines.append(f"recordings/{path.name} {stamp} {st.st_size}")
        lines.append(f"{self.free_kb * 1024} Bytes Left\r\n")
        return "\r\n".join(lines)

    def simple_command(self, conn: SimConnection, cmd: str) -> str:
        tag = self.tagged(conn)
        if cmd == "I":
            state = {0: "stopped", 1: "recording", 2: "paused"}[self.state]
            return (f"<ChA{self.channel_inputs[1]}*ChB{self.channel_inputs[2]}>*<{state}>*<internal>*"
                    f"<{self.free_kb}>*<{self.hms(self.elapsed())}>*<{self.hms(self.free_kb / 2000)}>")
        if cmd == "35I":
            value = self.hms(self.elapsed() if self.state else 0)
            return f"Inf35*{value}" if tag else value
        m = re.fullmatch(r"(\d)\*(\d)!", cmd)
        if m:
            source, channel = int(m.group(1)), int(m.group(2))
            if not 1 <= source <= 5:
                return "E01"
            if channel not in (1, 2):
                return "E12"
            self.channel_inputs[channel] = source
            return f"Out{channel} In{source} All"
        return super().simple_command(conn, cmd)


__all__ = ["ExtronRecorderSimulator", "ExtronSisSimulator", "ExtronSwitcherSimulator"]
