"""The demo's guard on its own: the data-folder lock and the address probe (real sockets, a real
second process holding the lock)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from roomops.demo_guard import Address, Busy, check_free, in_use, take_lock
from tests.conftest import next_loopback


def test_lock_is_exclusive_across_processes_and_names_the_holder(tmp_path: Path) -> None:
    script = ("import sys, time; from pathlib import Path; from roomops.demo_guard import take_lock; "
              "lock = take_lock(Path(sys.argv[1])); print('held', flush=True); time.sleep(60)")
    argv = [sys.executable, "-c", script, str(tmp_path)]
    holder = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(Busy, match=rf"another demo is running .*\(pid {holder.pid}\)"):
            take_lock(tmp_path)
    finally:
        holder.kill()
        holder.wait()
    take_lock(tmp_path).close()          # the kernel dropped the dead holder's lock: no stale lock


def test_busy_addresses_are_named(tmp_path: Path) -> None:
    host = next_loopback()
    with socket.socket() as tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        tcp.bind((host, 0))
        tcp.listen()
        udp.bind((host, 0))
        taken_tcp, taken_udp = tcp.getsockname()[1], udp.getsockname()[1]
        with socket.socket() as free:
            free.bind((host, 0))
            spare = free.getsockname()[1]
        wanted = [Address("central", host, taken_tcp), Address("lhasa.camera2", host, taken_udp, udp=True),
                  Address("urumqi.codec", host, spare)]
        assert [in_use(a) for a in wanted] == [True, True, False]
        with pytest.raises(Busy) as info:
            check_free(wanted)
    message = str(info.value)
    assert f"{host}:{taken_tcp} (central)" in message and f"{host}:{taken_udp}/udp (lhasa.camera2)" in message
    assert "urumqi.codec" not in message and "Nothing was changed" in message
