"""The dashboard's router, picked up by ``central.routers`` (pages, static files, API additions)."""

from __future__ import annotations

from fastapi import APIRouter

from central.web import api, pages

router = APIRouter()
router.include_router(api.router)
router.include_router(pages.router)
