"""The ASGI server command line, in one place: `manage.py run`, the Procfile's twin and the tests.

uvicorn, chosen by measurement over daphne (docs/performance.md): uvloop and httptools, the sans-I/O
`websockets` implementation (no handshake timeout, so a slow handshake in a reconnect storm is never
refused; it supports the WebSocket denial response, so a wrong station password is answered 401), and
permessage-deflate off (it multiplies the memory of every connection).

Several processes share one port: `listening_sockets` binds one SO_REUSEPORT socket per process (the
kernel spreads new connections over them) and each server gets its own by file descriptor (`--fd`).
The supervisor keeps the sockets, so a server that dies and is restarted finds the connections that
arrived meanwhile waiting in its socket's backlog.
"""

import gc
import socket
import sys

WS_MAX_SIZE = 1 << 20  # 1 MiB: larger frames are refused by the server before they reach us


BACKLOG = 4096

# Objects the collector's youngest generation may hold before it runs (Python's default: 700).
GC_YOUNG_THRESHOLD = 10_000


def settle_collector() -> None:
    """Keep the cycle collector off the event loop's critical path, once the application is loaded.

    A full collection stops the process while it walks every container object: with a few thousand
    connections, 100-300 ms in which no station is answered (docs/performance.md). The objects that
    exist once Django, the URL conf, the models and the consumers are loaded live as long as the
    process, so they are frozen out of every collection; and the youngest generation is collected
    after 10,000 new objects instead of 700, so the objects of the messages in flight are no longer
    promoted into the old generations, whose growth is what triggers a full collection. Garbage
    cycles are still collected, less often."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


def listening_sockets(*, host: str, port: int, count: int) -> list[socket.socket]:
    """`count` listening sockets on host:port (SO_REUSEPORT), inheritable by the server processes."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sockets = []
    for _ in range(count):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
        sock.set_inheritable(True)
        sockets.append(sock)
    return sockets


def web_server_argv(*, host: str = "", port: int = 0, fd: int | None = None) -> list[str]:
    """argv of one server process for chargenet.asgi:application, on host:port or an inherited socket."""
    where = ["--fd", str(fd)] if fd is not None else ["--host", host, "--port", str(port)]
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "chargenet.asgi:application",
        *where,
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--ws",
        "websockets-sansio",
        "--ws-per-message-deflate",
        "false",
        "--ws-max-size",
        str(WS_MAX_SIZE),
        # The server pings every connection; a charger whose pongs stop is closed (and marked offline).
        "--ws-ping-interval",
        "20",
        "--ws-ping-timeout",
        "30",
        "--backlog",
        str(BACKLOG),
        "--lifespan",
        "off",
        "--no-access-log",
        # uvicorn logs every WebSocket open and close at INFO: two lines per charger in a storm.
        "--log-level",
        "warning",
        "--proxy-headers",
    ]
