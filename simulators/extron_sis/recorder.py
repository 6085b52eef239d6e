"""An Extron streaming media processor (SMP 351 kind) that writes a real file per recording."""

from __future__ import annotations

import contextlib
import re
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Self

from simulators.extron_sis.session import ExtronSisSimulator
from simulators.harness import SimConnection
from simulators.spec import SimSpec


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
