"""The browser's session key (an HttpOnly cookie) and which browser connections are open: ASGI middleware.

streamlit_app.py's `st.App` runs `SessionCookie` before Streamlit's own handlers (st.App's documented
`middleware=` argument). No script in the page is involved:

* every page load (an HTML response, or a request the browser marks as a document) gets
  `Set-Cookie: fmnist_lab_session=<key>; HttpOnly; SameSite=Lax; Path=/; Max-Age=12 h` (Secure over
  https). The key is the one the browser sent, or a new secrets.token_urlsafe(32); each load renews
  its 12 hours. HttpOnly: no script of the page can read it; the browser sends it back on the
  websocket Streamlit opens next, where the app reads it with `st.context.cookies` (persist.py).
  An experiment link carries settings in its query string, never this key: sharing a link shares no runs.
* every websocket (one per browser tab's connection) gets a random id in a request header,
  CONNECTION_HEADER, that the app reads with `st.context.headers`; the id is marked open here until the
  socket closes. A job of a session without a key is stopped seconds after its tab's connection closed
  (persist.keep_alive), rather than after the pool's two-minute staleness rule.

Plain ASGI, no Streamlit import: it runs in the server's event loop, before any session exists.
"""

from __future__ import annotations

import secrets
import threading
import time

from fmnist_lib.session_store import TTL_SECONDS, key_is_valid, new_key

COOKIE = "fmnist_lab_session"
CONNECTION_HEADER = "x-fmnist-lab-connection"
CLOSED_MEMORY_SECONDS = 600.0  # how long a closed connection is remembered as closed (then: unknown)

_lock = threading.Lock()
_open: set[str] = set()
_closed: dict[str, float] = {}  # id -> time.monotonic() when it closed


def is_open(connection: str | None) -> bool:
    with _lock:
        return connection in _open


def closed_for(connection: str | None) -> float | None:
    """Seconds since the connection closed; None while it is open or unknown."""
    with _lock:
        at = _closed.get(connection)
    return None if at is None else time.monotonic() - at


def _opened(connection: str) -> None:
    with _lock:
        _open.add(connection)


def _gone(connection: str) -> None:
    now = time.monotonic()
    with _lock:
        _open.discard(connection)
        _closed[connection] = now
        for old in [c for c, t in _closed.items() if now - t > CLOSED_MEMORY_SECONDS]:
            del _closed[old]


def cookie_from_headers(headers: list[tuple[bytes, bytes]]) -> str | None:
    """Our cookie's value in a request's raw headers, if it is a well-formed key."""
    for name, value in headers:
        if name.lower() != b"cookie":
            continue
        for part in value.decode("latin-1").split(";"):
            k, _, v = part.strip().partition("=")
            if k == COOKIE and key_is_valid(v):
                return v
    return None


def set_cookie_value(key: str, *, secure: bool, max_age: int = int(TTL_SECONDS)) -> bytes:
    attrs = [f"{COOKIE}={key}", "Path=/", f"Max-Age={max_age}", "HttpOnly", "SameSite=Lax"]
    if secure:
        attrs.append("Secure")
    return "; ".join(attrs).encode("latin-1")


def _header(headers, name: bytes) -> str:
    return next((v.decode("latin-1") for k, v in headers if k.lower() == name), "")


def _is_https(scope) -> bool:
    forwarded = _header(scope.get("headers", []), b"x-forwarded-proto").split(",")[0].strip().lower()
    return scope.get("scheme") == "https" or forwarded == "https"


class SessionCookie:
    """ASGI middleware: the session cookie on page loads, an id on each websocket (see the module)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _http(self, scope, receive, send) -> None:
        headers = scope.get("headers", [])
        key = cookie_from_headers(headers) or new_key()
        document = _header(headers, b"sec-fetch-dest") == "document"
        secure = _is_https(scope)

        async def send_with_cookie(message) -> None:
            if message["type"] == "http.response.start":
                out = list(message.get("headers", []))
                if document or _header(out, b"content-type").startswith("text/html"):
                    out.append((b"set-cookie", set_cookie_value(key, secure=secure)))
                    message = {**message, "headers": out}
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    async def _websocket(self, scope, receive, send) -> None:
        connection = secrets.token_urlsafe(16)
        headers = [(k, v) for k, v in scope.get("headers", []) if k.lower() != CONNECTION_HEADER.encode()]
        scope = {**scope, "headers": [*headers, (CONNECTION_HEADER.encode(), connection.encode())]}
        _opened(connection)
        try:
            await self.app(scope, receive, send)
        finally:
            _gone(connection)
