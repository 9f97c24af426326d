"""A LANBilling SOAP server on loopback, for the demo and the tests.

It serves ``api3.wsdl`` (``GET /?wsdl``, with ``encoding.xml`` beside it) and
answers ``Login``, ``Logout``, ``getAccounts``, ``getAccount``,
``getAgreements``, ``getVgroups``, ``getPayments``, ``getDocuments`` and
``insupdAccount`` from a :class:`~adapters.billing.simdata.BillingData`.
Requests are parsed with :func:`bus.schema.parse_xml` and read through the
WSDL's input messages; replies are built from the WSDL's own output types
(required elements the data lacks get their type's zero value), so a strict
zeep client accepts them::

    with BillingSimulator(BillingData.seed()) as sim:
        client = BillingClient(sim.url, sim.login, sim.password)

Switches for reliability tests: :meth:`slow`, :meth:`fault`, :meth:`drop`,
:meth:`http_error`, :meth:`expire_sessions`; :attr:`calls` counts operations,
:attr:`connections` TCP connections, :attr:`writes` keeps every
``insupdAccount`` it accepted. The HTTP side is in :mod:`~adapters.billing.simhttp`.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from lxml import etree

from adapters.billing.client import load_wsdl
from adapters.billing.settings import DEFAULT_WSDL
from adapters.billing.simdata import BillingData, Row
from adapters.billing.simhttp import handler_for
from adapters.billing.simops import Operations, SoapFault, fault_envelope
from adapters.billing.soaptypes import read, reply
from bus.adapters.simulation import Fault, FaultSwitches, serve_until_interrupted
from bus.adapters.simulation import operations as only
from bus.schema import parse_xml

__all__ = ["BillingSimulator"]

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"


class BillingSimulator:
    def __init__(self, data: BillingData | None = None, *, login: str = "admin",
                 password: str = "secret", wsdl: Path = DEFAULT_WSDL, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.data = data or BillingData.seed()
        self.login, self.password = login, password
        self.wsdl_path = Path(wsdl)
        self.document = load_wsdl(self.wsdl_path)
        self.binding = self.document.bindings["{urn:api3}api3"]
        self.operations = Operations(self.data)
        self.sessions: set[str] = set()
        self.calls: Counter[str] = Counter()
        self.writes: list[Row] = []
        self.connections = 0
        """TCP connections accepted (a pooling client opens few)."""
        self.faults = FaultSwitches()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, port), handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # -- lifecycle ------------------------------------------------------------

    def start(self) -> BillingSimulator:
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name="billing-simulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> BillingSimulator:
        return self.start()

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None
                 ) -> None:
        self.stop()

    # -- switches -------------------------------------------------------------

    def slow(self, seconds: float, *operations: str, times: int | None = None,
             after: int = 0) -> None:
        """Answer ``operations`` (all when none named) after ``seconds``: ``times`` calls
        (all when None), once ``after`` calls have gone through normally."""
        self.faults.add(Fault("slow", only(*operations), times, after, seconds=seconds))

    def fault(self, code: str, message: str, *operations: str, times: int | None = None,
              after: int = 0) -> None:
        """Answer with a SOAP fault (``code`` "Client" or "Server") instead."""
        self.faults.add(Fault("fault", only(*operations), times, after, code=code,
                              message=message))

    def drop(self, *operations: str, times: int | None = None, after: int = 0) -> None:
        """Close the connection without answering."""
        self.faults.add(Fault("drop", only(*operations), times, after))

    def http_error(self, status: int, *operations: str, times: int | None = None) -> None:
        """Answer with a bare HTTP error and no SOAP (a proxy or a web server in front)."""
        self.faults.add(Fault("http", only(*operations), times, status=status))

    def expire_sessions(self) -> None:
        """Forget every session, as a billing restart or a session timeout would."""
        with self._lock:
            self.sessions.clear()

    def clear(self) -> None:
        """Back to normal service."""
        self.faults.clear()

    # -- answering ------------------------------------------------------------

    def answer(self, body: bytes, cookie: str | None) -> tuple[int, bytes, str | None]:
        """HTTP status, reply envelope and a new session cookie, for one SOAP request.

        Raises ``ConnectionAbortedError`` when the connection is to be dropped.
        """
        envelope = parse_xml(body)
        request = envelope.find(f"{{{SOAP_ENV}}}Body")
        if request is None or not len(request):
            return 500, fault_envelope("Client", "no SOAP body"), None
        operation = etree.QName(request[0]).localname
        with self._lock:
            self.calls[operation] += 1
        slow = self.faults.active("slow", operation)
        if slow:
            time.sleep(slow.seconds)
        if self.faults.active("drop", operation):
            raise ConnectionAbortedError(operation)
        broken = self.faults.active("http", operation)
        if broken:
            return broken.status, b"<html><body>Service Unavailable</body></html>", None
        fault = self.faults.active("fault", operation)
        if fault:
            return 500, fault_envelope(fault.code, fault.message), None
        bound = self.binding._operations.get(operation)
        handler: Callable[..., Any] | None = getattr(self.operations, operation, None)
        if bound is None or (handler is None and operation != "Login"):
            return 500, fault_envelope("Client", f"operation {operation} is not simulated"), None
        arguments = read(request[0], bound.input.body.type)
        new_cookie = None
        try:
            if operation == "Login":
                result, new_cookie = self._login(arguments)
            elif cookie not in self.sessions:
                raise SoapFault("Client", "Authorization required: no session, call Login first")
            else:
                assert handler is not None
                result = handler(**arguments)
                if operation == "insupdAccount":
                    self.writes.append(arguments)
        except SoapFault as error:
            return 500, fault_envelope(error.code, error.message), None
        envelope = reply(bound, result)
        return 200, etree.tostring(envelope, xml_declaration=True, encoding="utf-8"), new_cookie

    def _login(self, arguments: Row) -> tuple[Any, str]:
        if (arguments.get("login"), arguments.get("pass")) != (self.login, self.password):
            raise SoapFault("Client", "Login failed: wrong login or password")
        token = secrets.token_hex(16)
        with self._lock:
            self.sessions.add(token)
        return [{"manager": {"login": self.login, "fio": "ESB integration",
                             "personid": 1}}], token

    def wsdl_text(self) -> bytes:
        text = self.wsdl_path.read_bytes()
        return text.replace(b'location="http://127.0.0.1:34012"', f'location="{self.url}"'.encode())


def main(argv: list[str] | None = None) -> None:
    """``python -m adapters.billing.simulator [--data DIR] [--port N]``: serve until killed.

    Prints the endpoint URL on the first line, for scripts that start it.
    """
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else "")
    parser.add_argument("--data", help="a datagen output directory (default: the built-in seed)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=34012)
    parser.add_argument("--login", default="admin")
    parser.add_argument("--password", default="secret")
    options = parser.parse_args(argv)
    data = BillingData.from_directory(options.data) if options.data else BillingData.seed()
    simulator = BillingSimulator(data, login=options.login, password=options.password,
                                 host=options.host, port=options.port)
    serve_until_interrupted(simulator)


if __name__ == "__main__":
    main()
