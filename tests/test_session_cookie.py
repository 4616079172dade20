"""lab_ui.session_cookie: the HttpOnly session cookie on page loads, an id on each websocket (plain ASGI)."""

from __future__ import annotations

import asyncio

from fmnist_lib.session_store import key_is_valid, new_key
from lab_ui import session_cookie as sc


def _run(scope, content_type: bytes = b"text/html") -> tuple[list, dict]:
    sent, seen = [], {}

    async def app(scope, receive, send):
        seen["scope"] = scope
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", content_type)]})
            await send({"type": "http.response.body", "body": b"x"})

    async def receive():
        return {"type": "websocket.disconnect"}

    async def send(message):
        sent.append(message)

    asyncio.run(sc.SessionCookie(app)(scope, receive, send))
    return sent, seen


def _set_cookie(sent) -> str | None:
    headers = dict(sent[0]["headers"])
    value = headers.get(b"set-cookie")
    return value.decode() if value else None


def test_a_page_load_without_a_key_gets_a_new_unguessable_httponly_lax_cookie():
    sent, _ = _run({"type": "http", "scheme": "http", "headers": []})
    cookie = _set_cookie(sent)
    name_value, *attrs = cookie.split("; ")
    name, value = name_value.split("=", 1)
    assert name == sc.COOKIE and key_is_valid(value)
    assert {"HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=43200"} <= set(attrs) and "Secure" not in attrs


def test_a_page_load_with_a_key_renews_the_same_key_and_https_adds_secure():
    key = new_key()
    headers = [(b"cookie", f"other=1; {sc.COOKIE}={key}".encode()), (b"x-forwarded-proto", b"https")]
    sent, _ = _run({"type": "http", "scheme": "http", "headers": headers})
    cookie = _set_cookie(sent)
    assert cookie.startswith(f"{sc.COOKIE}={key};") and cookie.endswith("Secure")


def test_a_malformed_key_is_replaced_and_other_responses_get_no_cookie():
    sent, _ = _run({"type": "http", "scheme": "http", "headers": [(b"cookie", f"{sc.COOKIE}=../etc".encode())]})
    assert "../etc" not in _set_cookie(sent)
    sent, _ = _run({"type": "http", "scheme": "http", "headers": []}, content_type=b"application/javascript")
    assert _set_cookie(sent) is None


def test_each_websocket_gets_an_id_header_that_is_open_until_it_closes():
    forged = (sc.CONNECTION_HEADER.encode(), b"forged")
    _, seen = _run({"type": "websocket", "headers": [forged]})
    ids = [v.decode() for k, v in seen["scope"]["headers"] if k == sc.CONNECTION_HEADER.encode()]
    assert len(ids) == 1 and ids[0] != "forged"  # a header the browser sent is dropped
    assert not sc.is_open(ids[0]) and sc.closed_for(ids[0]) is not None  # the app returned: the socket closed
    assert sc.closed_for("never-seen") is None and not sc.is_open("never-seen")
