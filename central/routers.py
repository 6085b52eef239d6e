"""Every router of the central app, in one place: adding the dashboard or reports is one line."""

from __future__ import annotations

import importlib
import logging

from fastapi import APIRouter

from central.api import (
    admin,
    auth,
    commands,
    dead_letters,
    faults,
    health,
    meetings,
    recording_uploads,
    relocations,
    selftests,
    sites,
    uplink,
)
from central.hub import link

log = logging.getLogger(__name__)

ROUTERS: list[APIRouter] = [
    health.router,
    auth.router,
    admin.router,
    dead_letters.router,
    sites.router,
    commands.router,
    selftests.router,
    meetings.router,
    relocations.router,
    faults.router,
    uplink.router,
    recording_uploads.router,
    link.router,
]

#: Optional packages added later (dashboard, reports): each exposes ``router``; absent is fine.
OPTIONAL_ROUTERS: list[str] = [
    "central.web.routes",
    "central.reports.routes",
    "central.api.retention",
]


def all_routers() -> list[APIRouter]:
    routers = list(ROUTERS)
    for module_name in OPTIONAL_ROUTERS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name is None or not module_name.startswith(exc.name):
                raise
            continue
        routers.append(module.router)
    return routers
