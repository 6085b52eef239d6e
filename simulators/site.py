"""Serve many simulated devices together: one room, several rooms, or all six sites at once.

``SiteSimulation(specs)`` builds each device with ``simulator_class(spec.driver).from_spec(spec,
self)``: a simulator may look at ``site.simulators`` (a PDU finds the devices its outlets feed,
by full device id) and ``site.fabric`` (the shared call fabric, so codecs of every site in the
process can call each other and the bridge). Drivers whose simulator is not written yet are
skipped with a notice (``skipped`` says why), so ``roomops sim`` grows as simulators land.

Bridges: ``bridges=["bridge@mcu.roomops.example"]`` puts an MCU (``simulators.fabric.Bridge``)
on the call fabric under each URI while the simulation runs, so a codec's test call or a
meeting dialled to the bridge connects.

Faults: ``faults={"urumqi.camera1": ["silent", "slow=2"]}`` switches knobs on before the device
starts listening. Everything starts and stops as a context manager; a failure while starting
stops what already runs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from simulators.faults import parse_knob
from simulators.harness import DeviceSimulator
from simulators.registry import simulator_class
from simulators.spec import SimSpec


def _default_fabric() -> Any:
    """``simulators.fabric.default_fabric()`` when that module exists, else None."""
    try:
        module = importlib.import_module("simulators.fabric")
    except ModuleNotFoundError as exc:
        if exc.name == "simulators.fabric":
            return None
        raise
    factory = getattr(module, "default_fabric", None)
    return factory() if callable(factory) else None


class SiteSimulation:
    def __init__(self, specs: Iterable[SimSpec], *, faults: Mapping[str, Iterable[str]] | None = None,
                 notify: Callable[[str], None] | None = None, fabric: Any = None,
                 bridges: Iterable[str] = ()) -> None:
        self.specs: dict[str, SimSpec] = {}
        for spec in specs:
            if spec.device_id in self.specs:
                raise ValueError(f"device {spec.device_id} is given twice")
            self.specs[spec.device_id] = spec
        unknown = sorted(set(faults or {}) - set(self.specs))
        if unknown:
            raise ValueError(f"--fault names unknown device(s): {', '.join(unknown)}")
        self.faults = {k: list(v) for k, v in (faults or {}).items()}
        self.notify = notify or (lambda _text: None)
        self.fabric = fabric if fabric is not None else _default_fabric()
        self.simulators: dict[str, DeviceSimulator] = {}
        self.skipped: dict[str, str] = {}       # device id -> why it is not served
        self.bridge_uris = list(dict.fromkeys(uri for uri in bridges if uri))
        self.bridges: list[Any] = []            # simulators.fabric.Bridge, while running
        self._running: list[DeviceSimulator] = []

    # lifecycle ---------------------------------------------------------------------------------
    def build(self) -> None:
        """Create every simulator that exists (no sockets yet), so wiring can see them all."""
        for device_id, spec in self.specs.items():
            if device_id in self.simulators or device_id in self.skipped:
                continue
            try:
                cls = simulator_class(spec.driver)
            except LookupError as exc:
                self.skipped[device_id] = str(exc)
                self.notify(f"skipped {device_id} ({spec.model or spec.driver}): {exc}")
                continue
            self.simulators[device_id] = cls.from_spec(spec, self)
        for device_id, knobs in self.faults.items():
            sim = self.simulators.get(device_id)
            if sim is None:
                self.notify(f"fault for {device_id} ignored: it is not simulated")
                continue
            for knob in knobs:
                sim.set_fault(*parse_knob(knob))

    def start(self) -> SiteSimulation:
        self.build()
        try:
            self._open_bridges()
            for sim in self.simulators.values():
                sim.start()
                self._running.append(sim)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        while self._running:
            self._running.pop().stop()
        while self.bridges:
            self.bridges.pop().close()

    def _open_bridges(self) -> None:
        if not self.bridge_uris:
            return
        if self.fabric is None:
            self.notify("bridges ignored: there is no call fabric")
            return
        from simulators.fabric import Bridge

        for uri in self.bridge_uris:
            self.bridges.append(Bridge(self.fabric, uri))

    def __enter__(self) -> SiteSimulation:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # what clients need -------------------------------------------------------------------------
    def url(self, device_id: str) -> str:
        """Where a client connects, e.g. ssh://admin@127.0.20.10:2222 or serial:///abs/path."""
        spec = self.specs[device_id]
        if spec.transport == "serial":
            sim = self.simulators.get(device_id)
            path = spec.serial_link or _served_path(sim)
            return f"serial://{path}"
        port = spec.port or _served_port(self.simulators.get(device_id))
        user = f"{spec.username}@" if spec.transport == "ssh" and spec.username else ""
        return f"{spec.transport}://{user}{spec.host}:{port}"

    def entries(self) -> list[dict[str, str]]:
        """One record per served device: id, model, url, username, password (the simulator's)."""
        return [{"id": device_id, "model": spec.model, "url": self.url(device_id),
                 "username": spec.username, "password": spec.password}
                for device_id, spec in self.specs.items() if device_id in self.simulators]


def _served_port(sim: DeviceSimulator | None) -> int:
    for url in sim.urls() if sim is not None else []:
        tail = url.rsplit(":", 1)[-1]
        if tail.isdigit():
            return int(tail)
    return 0


def _served_path(sim: DeviceSimulator | None) -> str:
    for url in sim.urls() if sim is not None else []:
        if url.startswith("serial://"):
            return url[len("serial://"):]
    return ""
