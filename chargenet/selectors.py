"""Framework-level reads: the health of the parts ChargeNet depends on."""

import secrets

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection


def health_check(*, include_worker: bool = False, worker_timeout: float = 10.0) -> dict[str, str]:
    """Ask the database, the channel layer (and optionally a Celery worker) to answer.

    Returns a mapping part → "ok" or the error text; never raises.
    """
    parts: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        parts["database"] = "ok"
    except Exception as exc:
        parts["database"] = f"error: {exc}"
    try:
        async_to_sync(_channel_layer_roundtrip)()
        parts["channel_layer"] = "ok"
    except Exception as exc:
        parts["channel_layer"] = f"error: {exc or type(exc).__name__}"
    if include_worker:
        from chargenet.tasks import worker_ping_task

        token = secrets.token_hex(8)
        try:
            answer = worker_ping_task.delay(token).get(timeout=worker_timeout)
            parts["worker"] = "ok" if answer == token else "error: wrong answer"
        except Exception as exc:
            parts["worker"] = f"error: {exc or type(exc).__name__}"
    return parts


async def _channel_layer_roundtrip() -> None:
    import asyncio

    layer = get_channel_layer()
    # The default "specific." prefix matters: channels_redis serves every process-local channel of
    # one prefix from a single Redis list, read by whichever consumer holds the receive lock; a
    # channel of its own prefix would never be read while a WebSocket is connected to this process.
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "healthz.ping"})
    message = await asyncio.wait_for(layer.receive(channel), timeout=3)
    if message.get("type") != "healthz.ping":
        raise RuntimeError("channel layer returned a different message")
