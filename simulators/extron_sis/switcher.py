"""An Extron matrix switcher (DXP kind) of configurable size."""

from __future__ import annotations

import re
import threading
from typing import Any, Self

from simulators.extron_sis.session import PLANE_NAMES, ExtronSisSimulator
from simulators.harness import SimConnection
from simulators.spec import SimSpec


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
