"""A simulator's HTTP face: an ASGI app served by uvicorn on a thread, on loopback.

The CRM and document-flow simulators (and any new system's) subclass
:class:`LoopbackServer` and say what they serve in :meth:`~LoopbackServer.asgi`;
the port is bound at construction (``port=0``: a free one), so ``base_url`` is
known before :meth:`~LoopbackServer.start`.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import ClassVar, Self

import uvicorn
from starlette.types import ASGIApp

__all__ = ["LoopbackServer"]


class LoopbackServer:
    server_name: ClassVar[str] = "simulator"
    """Names the thread and the error when it does not start."""
    log_level: ClassVar[str] = "warning"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._socket = socket.create_server((host, port))
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def asgi(self) -> ASGIApp:
        """The application to serve; called once, by :meth:`start`."""
        raise NotImplementedError

    @property
    def base_url(self) -> str:
        host, port = self._socket.getsockname()[:2]
        return f"http://{host}:{port}"

    def start(self, timeout: float = 10.0) -> Self:
        self._server = uvicorn.Server(uvicorn.Config(
            self.asgi(), log_level=self.log_level, lifespan="off", access_log=False))
        self._thread = threading.Thread(target=self._server.run,
                                        kwargs={"sockets": [self._socket]},
                                        name=self.server_name, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"the {self.server_name} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        self._socket.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None
                 ) -> None:
        self.stop()
