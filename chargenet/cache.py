"""Django's Redis cache, keeping its client objects.

Django's `RedisCacheClient` builds a new `redis.Redis` object for every cache call (over the same
connection pool); building one costs more than the round trip it makes on loopback. A station's
handshake asks the cache once or three times (the sign-in throttle, chargenet/signin.py), so a
reconnect storm of thousands spent a tenth of the web processes' CPU building clients. This one
builds a client once per connection pool and keeps it; a `redis.Redis` over a pool is safe to share
between threads, and Django keeps one cache object per thread anyway.
"""

from typing import Any

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient as DjangoRedisCacheClient


class RedisCacheClient(DjangoRedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        pool = self._get_connection_pool(write)  # type: ignore[attr-defined]  # made once, then kept
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)  # type: ignore[attr-defined]
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server: Any, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient
