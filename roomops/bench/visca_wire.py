"""Benchmark 2: VISCA over a 9600-baud pty: what a request costs next to its bytes' wire time.

The simulator paces every byte both ways at 9600 baud (10 bits a byte: start, 8 data, stop), as
the camera's UART would; a pty alone ignores the baud rate. Motion times are set to zero, so what is
left above the wire time is our driver, pyserial, the pty and the simulator's reply time.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from drivers.roles import Endpoint
from drivers.sony_visca import ViscaCameraDriver
from roomops.bench.report import Section
from roomops.bench.sizes import Sizes
from roomops.bench.stats import Summary, ms, ratio
from simulators.sony_visca import ViscaCameraSimulator

BAUD = 9600
BITS_PER_BYTE = 10

#: operation -> (bytes sent, bytes received), from the protocol notes (section 3)
OPERATIONS: dict[str, tuple[int, int]] = {
    "preset recall (81 01 04 3F 02 p FF; ACK 90 4y FF; completion 90 5y FF)": (7, 3 + 3),
    "power inquiry (81 09 04 00 FF; reply 90 50 pp FF)": (5, 4),
    "pan/tilt position inquiry (81 09 06 12 FF; reply 90 50 + 8 nibbles + FF)": (5, 11),
}


def wire_seconds(sent: int, received: int) -> float:
    return (sent + received) * BITS_PER_BYTE / BAUD


def _timed(op: Callable[[], object], count: int) -> list[float]:
    op()   # warm-up: the first exchange also drains the power-on state
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        op()
        samples.append(time.perf_counter() - start)
    return samples


def run(sizes: Sizes) -> Section:
    started = time.monotonic()
    sim = ViscaCameraSimulator(serve="serial", baudrate=BAUD, preset_time=0.0, home_time=0.0, move_time=0.0,
                               power_on_time=0.0)
    with sim:
        endpoint = Endpoint(transport="serial", serial_url=sim.serial_path, baudrate=BAUD, timeout=2.0,
                            options={"motion_timeout": 5.0, "power_on_timeout": 5.0})
        with ViscaCameraDriver(endpoint, name="bench.camera") as cam:
            cam.preset_store(2)
            ops: dict[str, Callable[[], object]] = {
                list(OPERATIONS)[0]: lambda: cam.preset_recall(2),
                list(OPERATIONS)[1]: cam.power_status,
                list(OPERATIONS)[2]: cam.position,
            }
            results = {name: Summary.of(_timed(op, sizes.visca_requests)) for name, op in ops.items()}
    section = Section(
        title="VISCA over a 9600-baud pty: preset recall and inquiries vs wire time",
        method=("Our `ViscaCameraDriver` over pyserial on a real pty to the Sony VISCA simulator, which "
                "paces the line both ways at 9600 baud (10 bits a byte) and has its motion times set to "
                "zero. Wire time is the bytes of the command and of every reply (ACK and completion for "
                "a command) at 9600 baud: the floor any client on that line pays. The ratio is what our "
                "driver, pyserial, the pty and the simulator add on top."),
        header=["operation", "bytes out/in", "wire time", "median", "p99", "median / wire time"])
    for name, s in results.items():
        sent, received = OPERATIONS[name]
        wire = wire_seconds(sent, received)
        section.rows.append([name, f"{sent}/{received}", ms(wire), ms(s.median), ms(s.p99),
                             ratio(s.median, wire)])
    section.notes.append(f"{sizes.visca_requests} requests per operation after one warm-up")
    section.seconds = time.monotonic() - started
    return section
