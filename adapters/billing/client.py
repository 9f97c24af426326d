"""The only module of the adapter that speaks SOAP to LANBilling (``api3.wsdl``, zeep).

* The WSDL is parsed once per process and path (:func:`load_wsdl`) and shared
  by every client; each client has its own ``requests.Session`` (pooled
  keep-alive connections, the ``Login`` cookie) and its own circuit breaker.
* zeep is blocking: call the methods from async code through :meth:`BillingClient.run`
  (a worker thread, at most ``concurrency`` calls in flight).
* Results are plain dicts (``zeep.helpers.serialize_object``), ready for
  :mod:`adapters.billing.mapping`.
* Errors say what the bus should do: network errors, timeouts, 5xx and SOAP
  server faults raise :class:`~bus.errors.ExternalSystemUnavailable` (retried);
  SOAP client faults raise :class:`~bus.errors.ExternalSystemRejected`
  (dead-lettered), :class:`NotFound` when the fault says the record does not exist.
  An expired session is renewed with a new ``Login`` and the call repeated once.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import requests
import zeep
import zeep.exceptions
from lxml import etree
from requests.adapters import HTTPAdapter
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential
from zeep.helpers import serialize_object
from zeep.transports import Transport
from zeep.wsdl import Document

from adapters.billing.breaker import CircuitBreaker
from adapters.billing.settings import DEFAULT_WSDL, BillingSettings
from adapters.billing.soaptypes import fill
from bus.adapters.http_errors import RETRIED_STATUSES
from bus.errors import EsbError, ExternalSystemRejected, ExternalSystemUnavailable, UnsafeXml

__all__ = ["BillingClient", "NotFound", "load_wsdl"]

log = logging.getLogger(__name__)
logging.getLogger("zeep.transports").setLevel(logging.INFO)
"""zeep's DEBUG dumps whole SOAP bodies, with passports log masking cannot recognise
(series and number in separate elements); lower it by hand to see the wire."""

P = ParamSpec("P")
T = TypeVar("T")
Record = dict[str, Any]

SESSION_FAULTS = ("authoriz", "not logged", "session")
"""Markers of a fault that means "log in again" (compared in lower case)."""
NOT_FOUND_FAULTS = ("not found", "no data", "not exist")
UNSAFE_REPLY = zeep.Settings(forbid_dtd=True, forbid_entities=True, forbid_external=True)
"""A reply with a DTD or entities is refused (XXE, billion laughs), never fetched or expanded."""
_UNSAFE = (zeep.exceptions.DTDForbidden, zeep.exceptions.EntitiesForbidden,
           zeep.exceptions.ExternalReferenceForbidden)

_documents: dict[Path, Document] = {}
_documents_lock = threading.Lock()


class NotFound(ExternalSystemRejected):
    """The billing answered that the record does not exist."""


class _Transport(Transport):  # type: ignore[misc]  # zeep is untyped
    """zeep's transport, refusing an HTTP error that carries no SOAP (a proxy's error page)
    instead of reporting it as an "Unknown fault"."""

    def post_xml(self, address: str, envelope: Any, headers: Any) -> Any:
        response = super().post_xml(address, envelope, headers)
        kind = response.headers.get("Content-Type", "")
        if response.status_code >= 400 and "xml" not in kind:
            raise zeep.exceptions.TransportError(
                f"HTTP {response.status_code}", status_code=response.status_code,
                content=response.content[:500])
        return response


def load_wsdl(path: Path = DEFAULT_WSDL) -> Document:
    """The parsed WSDL at ``path``, parsed once per process (about 0.5 s for api3.wsdl)."""
    key = Path(path).resolve()
    with _documents_lock:
        document = _documents.get(key)
        if document is None:
            document = _documents[key] = Document(str(key), Transport(cache=None))
        return document


def translate(error: Exception, operation: str) -> EsbError:
    """A zeep/requests error as the bus error that says what to do with the message."""
    where = f"billing {operation}"
    if isinstance(error, EsbError):
        return error
    if isinstance(error, _UNSAFE):
        return UnsafeXml(f"{where}: reply refused, it declares a DTD or entities "
                         f"({type(error).__name__})")
    if isinstance(error, zeep.exceptions.Fault):
        code = str(error.code or "")
        text = f"{where}: SOAP fault {code}: {error.message}"
        if code.rsplit(":", 1)[-1].lower() == "client":
            if any(marker in str(error.message).lower() for marker in NOT_FOUND_FAULTS):
                return NotFound(text)
            return ExternalSystemRejected(text)
        return ExternalSystemUnavailable(text)
    if isinstance(error, zeep.exceptions.TransportError):
        text = f"{where}: HTTP {error.status_code}"
        if error.status_code >= 500 or error.status_code in RETRIED_STATUSES:
            return ExternalSystemUnavailable(text)
        return ExternalSystemRejected(text)
    if isinstance(error, requests.Timeout):
        return ExternalSystemUnavailable(f"{where}: timed out ({type(error).__name__})")
    if isinstance(error, requests.RequestException | ConnectionError):
        return ExternalSystemUnavailable(f"{where}: {type(error).__name__}: {error}")
    if isinstance(error, zeep.exceptions.XMLSyntaxError | etree.XMLSyntaxError):
        return ExternalSystemUnavailable(f"{where}: unreadable reply: {error}")
    if isinstance(error, zeep.exceptions.ValidationError):
        return ExternalSystemRejected(f"{where}: request does not fit the WSDL: {error}")
    return ExternalSystemUnavailable(f"{where}: {type(error).__name__}: {error}")


def _transient(error: BaseException) -> bool:
    return isinstance(error, ExternalSystemUnavailable) and "circuit open" not in str(error)


class BillingClient:
    """One LANBilling endpoint: session, pooled HTTP, typed operations."""

    def __init__(
        self, url: str, login: str, password: str, *, wsdl: Path = DEFAULT_WSDL,
        timeout: float = 10.0, retries: int = 2, concurrency: int = 4,
        breaker: CircuitBreaker | None = None, proxy: str = "",
    ) -> None:
        self.url = url
        self.login_name = login
        self._password = password
        self.timeout = timeout
        self.retries = retries
        self.concurrency = concurrency
        self.breaker = breaker or CircuitBreaker()
        self.session = requests.Session()
        self.session.trust_env = False  # no proxy/netrc look-ups in the environment per call
        if proxy:
            self.session.proxies = {"http": proxy, "https": proxy}
        pool = HTTPAdapter(pool_connections=1, pool_maxsize=concurrency, max_retries=0)
        self.session.mount("http://", pool)
        self.session.mount("https://", pool)
        transport = _Transport(session=self.session, timeout=timeout,
                               operation_timeout=timeout, cache=None)
        self._zeep = zeep.Client(load_wsdl(wsdl), transport=transport, settings=UNSAFE_REPLY)
        self._service = self._zeep.create_service("{urn:api3}api3", url)
        self._login_lock = threading.Lock()
        self._generation = 0
        self._logged_in = False
        self._slots: asyncio.Semaphore | None = None

    @classmethod
    def from_settings(cls, settings: BillingSettings) -> BillingClient:
        return cls(settings.url, settings.login, settings.password.get_secret_value(),
                   wsdl=settings.wsdl, timeout=settings.timeout, retries=settings.retries,
                   concurrency=settings.concurrency, proxy=settings.proxy,
                   breaker=CircuitBreaker(settings.breaker_failures, settings.breaker_reset))

    # -- plumbing -------------------------------------------------------------

    async def run(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a blocking client method in a worker thread, ``concurrency`` at most at once."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.concurrency)
        async with self._slots:
            return await asyncio.to_thread(function, *args, **kwargs)

    def close(self) -> None:
        self.session.close()

    def login(self) -> None:
        """Open a session (the cookie travels with every later call)."""
        with self._login_lock:
            self._call_once("Login", login=self.login_name, **{"pass": self._password})
            self._logged_in = True
            self._generation += 1

    def call(self, operation: str, *, read: bool = True, **arguments: Any) -> Any:
        """Call ``operation`` logged in; reads are retried quickly after network errors."""
        if not read or self.retries == 0:
            return self._call_logged_in(operation, arguments)
        retrying = retry(retry=retry_if_exception(_transient), reraise=True,
                         stop=stop_after_attempt(self.retries + 1),
                         wait=wait_exponential(multiplier=0.1, max=1.0))
        return retrying(self._call_logged_in)(operation, arguments)

    def _call_logged_in(self, operation: str, arguments: Mapping[str, Any]) -> Any:
        generation = self._generation
        if not self._logged_in:
            self._relogin(generation)
            generation = self._generation
        try:
            return self._call_once(operation, **arguments)
        except ExternalSystemRejected as rejected:
            if not any(marker in str(rejected).lower() for marker in SESSION_FAULTS):
                raise
            log.info("billing session expired; logging in again")
            self._relogin(generation)
            return self._call_once(operation, **arguments)

    def _relogin(self, seen_generation: int) -> None:
        with self._login_lock:
            if self._generation != seen_generation and self._logged_in:
                return  # another thread logged in meanwhile
            self._logged_in = False
        self.login()

    def _call_once(self, operation: str, **arguments: Any) -> Any:
        self.breaker.before()
        try:
            result = getattr(self._service, operation)(**arguments)
        except Exception as error:
            translated = translate(error, operation)
            if isinstance(translated, ExternalSystemUnavailable):
                self.breaker.failed(translated)
            else:
                self.breaker.succeeded()  # it answered: the billing is up
            raise translated from error
        self.breaker.succeeded()
        return serialize_object(result, target_cls=dict)

    # -- operations -----------------------------------------------------------

    def get_accounts(self, flt: Mapping[str, Any] | None = None,
                     order: Sequence[tuple[str, bool]] = ()) -> list[Record]:
        """Holders (``soapAccountsListItem``: brief account, agreements, addresses)."""
        return _rows(self.call("getAccounts", flt=dict(flt or {}), ord=_order(order)))

    def get_account(self, uid: int) -> Record:
        """One holder in full (``soapAccountFull``); :class:`NotFound` if there is none."""
        rows = _rows(self.call("getAccount", id=uid))
        if not rows:
            raise NotFound(f"billing getAccount: holder {uid} not found")
        return rows[0]

    def get_agreements(self, flt: Mapping[str, Any]) -> list[Record]:
        return _rows(self.call("getAgreements", flt=dict(flt)))

    def get_vgroups(self, flt: Mapping[str, Any],
                    order: Sequence[tuple[str, bool]] = ()) -> list[Record]:
        return _rows(self.call("getVgroups", flt=dict(flt), ord=_order(order)))

    def get_payments(self, flt: Mapping[str, Any],
                     order: Sequence[tuple[str, bool]] = ()) -> list[Record]:
        return _rows(self.call("getPayments", flt=dict(flt), ord=_order(order)))

    def get_documents(self, flt: Mapping[str, Any] | None = None) -> list[Record]:
        return _rows(self.call("getDocuments", flt=dict(flt or {})))

    def insupd_account(self, full: Mapping[str, Any], *, insert: bool = False) -> int:
        """Create (``insert``) or update a holder from a ``soapAccountFull``; its uid."""
        value = fill(self._zeep.get_type("{urn:api3}soapAccountFull"), full)
        return int(self.call("insupdAccount", read=False, isInsert=int(insert), val=value))

    # -- composites -----------------------------------------------------------

    def fetch_holder(self, uid: int, *, services: bool = True) -> Record:
        """``getAccount`` and, with ``services``, its ``getVgroups``: what mapping needs."""
        holder = self.get_account(uid)
        holder["vgroups"] = self.get_vgroups({"userid": uid}) if services else []
        return holder

    def pages(self, flt: Mapping[str, Any] | None = None, page_size: int = 100,
              order: Sequence[tuple[str, bool]] = (("uid", True),)) -> Iterator[list[Record]]:
        """Every holder matching ``flt``, one ``getAccounts`` page at a time."""
        number = 1
        while True:
            page = self.get_accounts({**(flt or {}), "pgnum": number, "pgsize": page_size},
                                     order)
            if page:
                yield page
            if len(page) < page_size:
                return
            number += 1


def _rows(result: Any) -> list[Record]:
    if result is None:
        return []
    return list(result) if isinstance(result, list) else [result]


def _order(order: Sequence[tuple[str, bool]]) -> list[dict[str, Any]]:
    return [{"name": name, "ascdesc": 0 if ascending else 1} for name, ascending in order]
