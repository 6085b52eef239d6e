"""Driver names used in model profiles -> driver classes, imported on first use."""

from __future__ import annotations

import importlib

from drivers.errors import Unsupported
from drivers.roles import Driver

#: name in profiles/models/*.yaml ``driver:`` -> "module:Class"
DRIVERS: dict[str, str] = {
    "cisco-roomos": "drivers.cisco_roomos:CiscoRoomOSDriver",
    "poly-group": "drivers.poly_group:PolyGroupDriver",
    "polycom-hdx": "drivers.polycom_hdx:PolycomHdxDriver",
    "sony-visca": "drivers.sony_visca:ViscaCameraDriver",
    "extron-sis-switcher": "drivers.extron_sis:ExtronSwitcherDriver",
    "extron-smp-recorder": "drivers.extron_sis:ExtronRecorderDriver",
    "pjlink": "drivers.pjlink:PJLinkDisplayDriver",
    "apc-pdu": "drivers.apc_pdu:ApcPduDriver",
    "cisco-ios": "drivers.routers:CiscoIosRouterDriver",
    "huawei-vrp": "drivers.routers:HuaweiVrpRouterDriver",
}


def driver_class(name: str) -> type[Driver]:
    try:
        target = DRIVERS[name]
    except KeyError:
        raise Unsupported(f"no driver named {name!r}; known: {', '.join(sorted(DRIVERS))}") from None
    module_name, _, cls_name = target.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, cls_name)
