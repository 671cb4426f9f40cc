"""The web stack's floor for ``benchmarks service``: uvicorn and a bare ASGI app.

``POST /v1/decide`` reads the body and answers a fixed JSON; ``GET /healthz`` answers
``ok``. What the service costs above this is distillguard's own work.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

_ANSWER = b'{"action":"allow","risk":0.0}'
_Msg = MutableMapping[str, Any]


async def app(
    scope: _Msg, receive: Callable[[], Awaitable[_Msg]], send: Callable[[_Msg], Awaitable[None]]
) -> None:
    """The ASGI app (lifespan, ``/healthz``, everything else answers the fixed JSON)."""
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b"ok" if scope["path"] == "/healthz" else _ANSWER
    msg = await receive()
    while msg.get("more_body"):
        msg = await receive()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
