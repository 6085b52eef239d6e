"""``serve``: uvicorn with a planned-restart drain.

On SIGTERM/SIGINT the instance first reports itself unhealthy (``/healthz`` answers 503, so a load
balancer stops sending it new links) and closes every agent link with ``CLOSE_RESTART`` and a retry
hint spread over ``restart_spread_seconds``; agents come back over that window (to another instance
behind a balancer, or to this one once it is up again) instead of backing off for up to a minute or
all dialling in the same second. Then uvicorn shuts down as usual.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import uvicorn
from fastapi import FastAPI

log = logging.getLogger(__name__)


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        super().__init__(config)
        self._app = app

    async def shutdown(self, sockets: Any = None) -> None:
        hub = self._app.state.hub
        self._app.state.ctx.draining = True
        spread = self._app.state.ctx.settings.restart_spread_seconds
        drained = await hub.drain(spread)
        if drained:
            log.info("asked %d agent(s) to reconnect within %.0f s", drained, spread)
        await super().shutdown(sockets)


def serve(app: FastAPI, *, host: str, port: int, log_level: str = "info", access_log: bool = False) -> None:
    # log_config=None: uvicorn's loggers go through the root handler central.logsetup configured.
    # permessage-deflate keeps a compressor and a decompressor (zlib windows) per link: about
    # 100 KB of an idle link's memory (tracemalloc, 1,000 links), for JSON frames of a few hundred
    # bytes that it barely shrinks
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, log_config=None,
                            access_log=access_log, ws_per_message_deflate=False)
    # uvicorn re-raises the signal it stopped on; Ctrl-C is the ordinary way to stop a server
    with contextlib.suppress(KeyboardInterrupt):
        DrainingServer(config, app).run()
