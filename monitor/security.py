"""What every response carries and every request is held to, before any route runs (plain ASGI
middleware, so streamed responses such as MJPEG pass through untouched):

- `SecurityHeaders`: a Content-Security-Policy that allows only this app's own scripts, styles,
  images and connections (halls run on closed networks: nothing is loaded from elsewhere) and no
  framing; `X-Content-Type-Options`, `Referrer-Policy`, `Permissions-Policy`, `Cache-Control: no-store`
  on everything but static assets, and HSTS when the site says it is served over HTTPS.
- `BodyLimit`: a request body larger than allowed is refused with 413 before it is read, from its
  Content-Length or, for a chunked body, as soon as the bytes received pass the limit. Requests
  without credentials get a small limit (a login form), so nobody can make the app read a large
  upload before it has checked who is sending it.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
HSTS = (b"strict-transport-security", b"max-age=31536000")
UNAUTHENTICATED_BODY_BYTES = 64 * 1024


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, https: bool = False) -> None:
        self.app = app
        self.headers = HEADERS + ([HSTS] if https else [])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cacheable = scope["path"].startswith("/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in self.headers if n not in present]
                if not cacheable and b"cache-control" not in present:
                    extra.append((b"cache-control", b"no-store"))
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.app(scope, receive, with_headers)


class BodyLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int,
                 unauthenticated_bytes: int = UNAUTHENTICATED_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.unauthenticated_bytes = min(unauthenticated_bytes, max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {name.lower(): value for name, value in scope.get("headers", [])}
        credentials = b"authorization" in headers or b"hw_session=" in headers.get(b"cookie", b"")
        limit = self.max_bytes if credentials else self.unauthenticated_bytes
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                too_large = int(declared) > limit
            except ValueError:
                await _refuse(send, 400, "bad Content-Length")
                return
            if too_large:
                await _refuse(send, 413, f"request body over {limit} bytes")
                return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, tracking_send)
        except _TooLarge as exc:
            if not started:
                await _refuse(send, 413, f"request body over {exc.limit} bytes")


class _TooLarge(HTTPException):
    """Raised from the body stream: an HTTPException, so that FastAPI's body parsing lets it through
    (it turns other errors there into 400) and the app answers 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=f"request body over {limit} bytes")
        self.limit = limit


async def _refuse(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers: list[Any] = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                          (b"connection", b"close")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
