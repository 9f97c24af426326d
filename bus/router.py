"""Typed handlers registered by decorator.

A decorator only records a :class:`Subscription` and returns the function
unchanged, so a handler stays a plain callable for unit tests::

    router = Router(source="crm")

    @router.subscriber("call-log", "pbx.call.ended.v1")
    async def log_call(call: CallEnded, context: Context) -> None:
        ...

Parameters are filled by annotation: :class:`~bus.envelope.Envelope` gets the
message, a pydantic model gets the payload parsed into it, :class:`Context`
gets the context, any other class gets the instance provided to the bus for
it (an adapter's client, see ``Bus.provide``). Synchronous handlers run in a
worker thread.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, get_type_hints

from pydantic import BaseModel, ValidationError

from bus.delivery.retry import RetryPolicy
from bus.envelope import Envelope
from bus.errors import SchemaViolation

if TYPE_CHECKING:
    from bus.context import Context

__all__ = ["Router", "Subscription"]

Handler = Callable[..., Any]
H = TypeVar("H", bound=Handler)


@dataclass(frozen=True, slots=True)
class Subscription:
    """One queue, the types it receives and the handler that processes them."""

    name: str
    patterns: tuple[str, ...]
    handler: Handler
    retry: RetryPolicy | None = None
    """None: the bus's default policy (``ESB_DELIVERY__MAX_ATTEMPTS``/``RETRY_DELAYS``)."""
    idempotent: bool = True
    concurrency: int = 1
    """Handlers in flight at once; messages with the same key stay in order."""
    ordered: bool = False
    """One consumer at a time across all processes (RabbitMQ single active consumer), so
    messages keep their publish order even with several workers running."""
    per_instance: bool = False
    """Every bus process gets each message (a queue of its own, named after the bus
    instance and gone with the process), instead of the processes sharing one queue
    as competing consumers. For state each process keeps in memory: caches, presence,
    pushes to the pages connected to it."""
    reply_type: str | None = None
    """Set for responders: the handler's return value is sent back as this type."""
    description: str = ""

    def __post_init__(self) -> None:
        if not self.patterns:
            raise ValueError(f"subscription {self.name!r} binds no message type")
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        _plan(self.handler)  # fail at import time, not at the first message

    def invoke(self, envelope: Envelope, context: Context) -> Awaitable[Any]:
        """The handler's run, to await: a coroutine handler's own coroutine (no coroutine
        around it, one per message), a synchronous one's in a worker thread."""
        arguments = [build(envelope, context) for build in _plan(self.handler)]
        if self.handler in _COROUTINES:
            running: Awaitable[Any] = self.handler(*arguments)
            return running
        return asyncio.to_thread(self.handler, *arguments)


_PLANS: dict[Handler, list[Callable[[Envelope, Context], Any]]] = {}
_COROUTINES: set[Handler] = set()


def _plan(handler: Handler) -> list[Callable[[Envelope, Context], Any]]:
    """How to build each argument of ``handler``, worked out once."""
    cached = _PLANS.get(handler)
    if cached is not None:
        return cached
    from bus.context import Context

    hints = get_type_hints(handler)
    plan: list[Callable[[Envelope, Context], Any]] = []
    for name in inspect.signature(handler).parameters:
        annotation = hints.get(name)
        if annotation is Envelope:
            plan.append(lambda envelope, _context: envelope)
        elif annotation is Context:
            plan.append(lambda _envelope, context: context)
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            plan.append(_payload_parser(annotation))
        elif annotation in (dict, Mapping) or name == "payload":
            plan.append(lambda envelope, _context: envelope.payload)
        elif isinstance(annotation, type):
            plan.append(_injected(annotation))
        else:
            raise TypeError(
                f"handler {handler.__qualname__}: parameter {name!r} needs an annotation "
                "of Envelope, Context, a pydantic model, dict, or a provided client class"
            )
    _PLANS[handler] = plan
    if inspect.iscoroutinefunction(handler):
        _COROUTINES.add(handler)
    return plan


def _injected(kind: type) -> Callable[[Envelope, Context], Any]:
    """A client the adapter provided to the bus, looked up when the handler runs."""
    return lambda _envelope, context: context.bus.dependency(kind)


def _payload_parser(model: type[BaseModel]) -> Callable[[Envelope, Context], Any]:
    def parse(envelope: Envelope, _context: Context) -> BaseModel:
        try:
            return model.model_validate(envelope.payload)
        except ValidationError as invalid:
            first = invalid.errors()[0]
            where = ".".join(str(part) for part in ("payload", *first["loc"]))
            raise SchemaViolation(
                f"{where}: {first['msg']}", field=where, message_id=envelope.id
            ) from None

    return parse


class Router:
    """A set of subscriptions, defined without a bus and included into one."""

    def __init__(self, source: str = "") -> None:
        self.source = source
        self.subscriptions: list[Subscription] = []

    def subscriber(
        self,
        name: str,
        *patterns: str,
        retry: RetryPolicy | None = None,
        idempotent: bool = True,
        concurrency: int = 1,
        ordered: bool = False,
        per_instance: bool = False,
    ) -> Callable[[H], H]:
        """Register the decorated function for messages whose type matches ``patterns``."""

        def register(handler: H) -> H:
            self.subscriptions.append(
                Subscription(
                    name=name,
                    patterns=patterns,
                    handler=handler,
                    retry=retry,
                    idempotent=idempotent,
                    concurrency=concurrency,
                    ordered=ordered,
                    per_instance=per_instance,
                    description=(inspect.getdoc(handler) or "").split("\n", 1)[0],
                )
            )
            return handler

        return register

    def responder(
        self, request_type: str, reply_type: str, *, name: str | None = None,
        concurrency: int = 4,
    ) -> Callable[[H], H]:
        """Answer requests of ``request_type``; the return value is the reply payload."""

        def register(handler: H) -> H:
            self.subscriptions.append(
                Subscription(
                    name=name or request_type.rsplit(".", 1)[0],
                    patterns=(request_type,),
                    handler=handler,
                    retry=RetryPolicy(max_attempts=1, delays=()),
                    idempotent=False,
                    concurrency=concurrency,
                    reply_type=reply_type,
                    description=(inspect.getdoc(handler) or "").split("\n", 1)[0],
                )
            )
            return handler

        return register

    def include(self, other: Router) -> None:
        self.subscriptions.extend(other.subscriptions)

