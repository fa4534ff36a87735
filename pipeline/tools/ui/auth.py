"""The optional token: a bearer header for scripts, a cookie set by a login form for people.

The cookie holds a hash of the token, not the token, is HttpOnly and SameSite=Strict, so a
page on another site can neither read it nor send it. Comparisons take constant time.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qs, quote

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

COOKIE = "evalstream_ui"
OPEN_PATHS = ("/health", "/login")


def cookie_value(token: str) -> str:
    return hashlib.sha256(b"evalstream-ui:" + token.encode()).hexdigest()


def safe_next(target: str | None) -> str:
    """Only a path of this app may follow a login (no open redirect to another site)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


class TokenGate:
    """ASGI middleware: lets a request through only with the right bearer token or cookie."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token
        self.cookie = cookie_value(token)

    def allowed(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), self.token):
            return True
        return hmac.compare_digest(request.cookies.get(COOKIE, ""), self.cookie)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if self.allowed(request):
            await self.app(scope, receive, send)
            return
        response: Response
        if scope["path"].startswith("/api/"):
            response = JSONResponse(
                {"error": "a token is required (Authorization: Bearer <token>)"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        else:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            response = RedirectResponse(f"/login?next={quote(target)}", status_code=303)
        await response(scope, receive, send)


async def read_login(request: Request) -> tuple[str, str]:
    """(token, next) from the urlencoded login form, without a multipart dependency."""
    body = (await request.body())[:8192].decode("utf-8", "replace")
    fields = parse_qs(body, keep_blank_values=True)
    return fields.get("token", [""])[0], safe_next(fields.get("next", ["/"])[0])
