"""What a request may send before the API reads it: a bounded body, and for /api/v1 a valid token first.

FastAPI reads and parses a body before it runs the routes' dependencies, the token check among them, so
without this an anonymous client could make the API hold any number of gigabytes before it answered 401.
`BodyGuard` is plain ASGI, outside the app: a body larger than the configured limit gets 413 (at once when its
Content-Length says so, else as soon as the bytes received pass it), and a body sent to /api/v1 without a
known, unrevoked bearer token gets 401 before a byte of it is read. The token it found is left in the
request's state for `current_token`, so it is looked up once.
"""

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.auth import service as auth_service

# Methods whose requests carry a body the routes read.
_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})
TOKEN_STATE = "api_token"


class BodyGuard:
    """ASGI middleware: 413 for a body over max_body_bytes, 401 for a body to the API without a valid token."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, api_prefix: str,
                 path_limits: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.api_prefix = api_prefix
        # Other limits for some paths (e.g. a sign-in form): a key ending in "/" is a prefix, any other an exact path;
        # the longest matching key wins.
        self.path_limits = sorted((path_limits or {}).items(), key=lambda item: -len(item[0]))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _WITH_BODY:
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope["headers"]}
        path = scope["path"]
        limit = next((size for key, size in self.path_limits
                      if path == key or (key.endswith("/") and path.startswith(key))), self.max_body_bytes)
        declared = headers.get(b"content-length", b"").strip()
        if declared.isdigit() and int(declared) > limit:
            await _answer(send, 413, _too_large(limit))
            return
        if scope["path"].startswith(self.api_prefix + "/"):
            token = await self._token(scope, headers.get(b"authorization", b""))
            if token is None:
                await _answer(send, 401, "A valid bearer token is required.", {"www-authenticate": "Bearer"})
                return
            scope.setdefault("state", {})[TOKEN_STATE] = token
        received = 0
        answered = False  # this guard sent the response: whatever the app sends after it is dropped

        async def counted_receive() -> Message:
            nonlocal received, answered
            message = await receive()
            if message["type"] == "http.request" and not answered:
                received += len(message.get("body", b""))
                if received > limit:
                    # Answer now, and tell the app the client has gone: it stops reading, and what it would
                    # send (its own error for a body cut short) goes nowhere.
                    answered = True
                    await _answer(send, 413, _too_large(limit))
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not answered:
                await send(message)

        await self.app(scope, counted_receive, guarded_send)

    @staticmethod
    async def _token(scope: Scope, authorization: bytes):
        scheme, _, credentials = authorization.decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            return None
        return await auth_service.authenticate(scope["app"].state.pool, credentials.strip())


def _too_large(limit: int) -> str:
    return f"The request body is larger than the {limit} bytes the API takes."


async def _answer(send: Send, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
