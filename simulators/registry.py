"""Driver names -> simulator classes, imported on first use (mirrors drivers.registry without
importing it: simulators are written independently of the drivers)."""

from __future__ import annotations

import importlib
from typing import Any

SIMULATORS: dict[str, str] = {
    "cisco-roomos": "simulators.cisco_roomos:CiscoRoomOSSimulator",
    "poly-group": "simulators.poly_group:PolyGroupSimulator",
    "polycom-hdx": "simulators.polycom_hdx:PolycomHdxSimulator",
    "sony-visca": "simulators.sony_visca:ViscaCameraSimulator",
    "extron-sis-switcher": "simulators.extron_sis:ExtronSwitcherSimulator",
    "extron-smp-recorder": "simulators.extron_sis:ExtronRecorderSimulator",
    "pjlink": "simulators.pjlink:PJLinkSimulator",
    "apc-pdu": "simulators.apc_pdu:ApcPduSimulator",
    "cisco-ios": "simulators.routers:CiscoIosSimulator",
    "huawei-vrp": "simulators.routers:HuaweiVrpSimulator",
}


def simulator_class(driver: str) -> Any:
    """The simulator class for a driver name; ``LookupError`` if none exists (yet)."""
    try:
        target = SIMULATORS[driver]
    except KeyError:
        raise LookupError(f"no simulator for driver {driver!r}") from None
    module_name, _, cls_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            raise LookupError(f"simulator module {module_name} is not written yet") from exc
        raise
    return getattr(module, cls_name)
