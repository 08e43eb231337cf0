"""Refusing an OCPP WebSocket handshake with the HTTP status that says why.

OCPP-J 1.6 §7 / 2.0.1 Part 4 §3.2 want 401 for bad credentials; we answer 429 (with Retry-After) for
a throttled source or identity. That needs the ASGI "websocket.http.response" extension (uvicorn has
it); daphne lacks it and can only answer 403, so there the refusal is a plain close before accept.
"""

from typing import Any

DENIAL_EXTENSION = "websocket.http.response"


async def handshake_refuse(consumer: Any, *, status: int, message: str, retry_after: int = 0) -> None:
    """Refuse the handshake of `consumer` (not yet accepted) with `status`, or 403 on daphne."""
    if DENIAL_EXTENSION not in (consumer.scope.get("extensions") or {}):
        await consumer.close()  # before accept: daphne answers HTTP 403
        return
    headers = [(b"content-type", b"text/plain; charset=utf-8")]
    if status == 401:
        headers.append((b"www-authenticate", b'Basic realm="OCPP", charset="UTF-8"'))
    if retry_after:
        headers.append((b"retry-after", str(retry_after).encode()))
    await consumer.base_send({"type": "websocket.http.response.start", "status": status, "headers": headers})
    await consumer.base_send({"type": "websocket.http.response.body", "body": message.encode()})
