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

from simulators.extron_sis.recorder import ExtronRecorderSimulator
from simulators.extron_sis.session import QUIRKS, TELNET_PORT, ExtronSisSimulator
from simulators.extron_sis.switcher import ExtronSwitcherSimulator

__all__ = ["QUIRKS", "TELNET_PORT", "ExtronRecorderSimulator", "ExtronSisSimulator",
           "ExtronSwitcherSimulator"]
