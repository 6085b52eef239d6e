"""Branch-office routers: Cisco IOS and Huawei VRP command lines.

``session`` (state and the session loop), ``config`` (configuration state, command matching),
``ios`` and ``vrp`` (the dialects).
"""

from simulators.routers.ios import CiscoIosSimulator
from simulators.routers.session import RouterSimulator
from simulators.routers.vrp import HuaweiVrpSimulator

__all__ = ["CiscoIosSimulator", "HuaweiVrpSimulator", "RouterSimulator"]
