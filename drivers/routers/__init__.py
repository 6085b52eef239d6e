"""Branch routers through netmiko: Cisco IOS and Huawei VRP (role Router).

``session`` (netmiko login, one command, errors), ``config_diff`` (configuration as data),
``base`` (the Router role, apply with read-back and rollback), ``ios`` and ``vrp`` (dialects).
"""

from drivers.routers.base import NetmikoRouterDriver
from drivers.routers.ios import CiscoIosRouterDriver
from drivers.routers.session import RouterSession
from drivers.routers.vrp import HuaweiVrpRouterDriver

__all__ = ["CiscoIosRouterDriver", "HuaweiVrpRouterDriver", "NetmikoRouterDriver", "RouterSession"]
