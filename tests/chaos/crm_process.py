"""The CRM simulator as its own process, with the switches the chaos run flips.

``python -m tests.chaos.crm_process --port N`` serves the real
:class:`~adapters.crm.simulator.CrmSimulator` plus three control routes (same
bearer token): ``POST /chaos/slow?seconds=S`` (every answer late until cleared),
``POST /chaos/clear`` and ``GET /chaos/ledger`` — how many times each
interaction was *created* (HTTP 201 to a PUT), which is the side effect that
must happen once per call whatever the bus goes through.
"""

from __future__ import annotations

import argparse
import re
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request, Response

from adapters.crm.simulator import CrmSimulator

__all__ = ["main"]

INTERACTION = re.compile(r"^/api/v1/interactions/(?P<external_id>[^/]+)$")


class ChaosCrm(CrmSimulator):
    """The CRM simulator counting interaction creations, switchable over HTTP."""

    def __init__(self, *, port: int) -> None:
        self.created: Counter[str] = Counter()
        self._ledger_lock = threading.Lock()
        super().__init__(port=port)

    def app(self) -> Any:
        app = super().app()

        @app.middleware("http")
        async def count_creations(request: Request,
                                  call_next: Callable[[Request], Awaitable[Response]]
                                  ) -> Response:
            response = await call_next(request)
            found = INTERACTION.match(request.url.path)
            if request.method == "PUT" and found and response.status_code == 201:
                with self._ledger_lock:
                    self.created[found["external_id"]] += 1
            return response

        @app.post("/chaos/slow")
        def slow(seconds: float) -> dict[str, float]:
            self.slow(seconds)
            return {"slow": seconds}

        @app.post("/chaos/clear")
        def clear() -> dict[str, bool]:
            self.clear()
            return {"cleared": True}

        @app.get("/chaos/ledger")
        def ledger() -> dict[str, Any]:
            with self._ledger_lock:
                return {"created": dict(self.created),
                        "interactions": len(self.data.interactions)}

        return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The CRM simulator for the chaos suite")
    parser.add_argument("--port", type=int, required=True)
    options = parser.parse_args(argv)
    simulator = ChaosCrm(port=options.port)
    simulator.start()
    print(simulator.url, flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
