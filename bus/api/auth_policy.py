"""Who may call what: the one policy table of the bus API, by method and path.

The first rule whose methods and pattern match decides. A pattern is a path
where ``*`` stands for one segment and a trailing ``/**`` for any rest
(including nothing). A path no rule names is for ``admin`` only: a route
somebody adds later is closed until it gets a rule here.

``admin`` passes every rule. ``PUBLIC`` rules need no credentials at all:
probes, the pages (which then sign in), the login, and webhook ingress that
checks its own signature. A component marks such a route of its own with
``openapi_extra={"x-esb-auth": "signature"}`` (see :data:`SIGNATURE_MARKER`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

__all__ = [
    "ADMIN",
    "ANY_ROLE",
    "INTEGRATOR",
    "MONITORING",
    "OPERATOR",
    "POLICY",
    "PUBLIC",
    "ROLES",
    "SIGNATURE_MARKER",
    "Policy",
    "Rule",
]

OPERATOR = "operator"
INTEGRATOR = "integrator"
ADMIN = "admin"
MONITORING = "monitoring"
ROLES: tuple[str, ...] = (OPERATOR, INTEGRATOR, ADMIN, MONITORING)

PUBLIC: frozenset[str] = frozenset()
"""Allowed roles of a public rule: none are needed."""
ANY_ROLE: frozenset[str] = frozenset(ROLES)

SIGNATURE_MARKER = ("x-esb-auth", "signature")
"""``openapi_extra`` key and value by which a route declares it verifies its own signature."""

READ = frozenset({"GET", "HEAD"})
WRITE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ALL = READ | WRITE | {"OPTIONS"}

_OPS = frozenset({OPERATOR})
_INT = frozenset({INTEGRATOR})
_MON = frozenset({MONITORING, INTEGRATOR})
_READERS = frozenset({MONITORING, INTEGRATOR, OPERATOR})


@dataclass(frozen=True, slots=True)
class Rule:
    methods: frozenset[str]
    pattern: str
    roles: frozenset[str]
    query_token: bool = False
    """Whether ``?access_token=`` is accepted (EventSource cannot send headers)."""
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regex", _compile(self.pattern))

    @property
    def public(self) -> bool:
        return not self.roles

    def matches(self, method: str, path: str) -> bool:
        return method in self.methods and self.regex.fullmatch(path) is not None


def _compile(pattern: str) -> re.Pattern[str]:
    rest = pattern.endswith("/**")
    segments = (pattern[:-3] if rest else pattern).split("/")
    body = "/".join(r"[^/]+" if segment == "*" else re.escape(segment) for segment in segments)
    return re.compile(body + ("(?:/.*)?" if rest else ""))


POLICY: tuple[Rule, ...] = (
    # probes and the sign-in
    Rule(READ, "/health", PUBLIC),
    Rule(READ, "/ready", PUBLIC),
    Rule(frozenset({"POST"}), "/v1/auth/login", PUBLIC),
    Rule(READ, "/v1/auth/me", ANY_ROLE),
    # pages and their assets; the pages sign in and call the API with a token
    Rule(READ, "/ui", PUBLIC),
    Rule(READ, "/ui/**", PUBLIC),
    # webhook ingress that verifies its own signature
    Rule(frozenset({"POST"}), "/v1/adapters/crm/webhooks/**", PUBLIC),
    Rule(READ | {"POST"}, "/v1/adapters/zadarma/webhook", PUBLIC),
    # monitoring: read-only
    Rule(READ, "/metrics", _MON),
    Rule(READ, "/v1/topology", _MON),
    Rule(READ, "/v1/adapters", _MON),
    Rule(READ, "/v1/messages", _READERS),
    Rule(READ, "/v1/messages/**", _READERS),
    Rule(READ, "/v1/dlq", _READERS),
    Rule(READ, "/v1/dlq/*", _READERS),
    Rule(READ, "/v1/flows", _READERS),
    Rule(READ, "/v1/sync/status", _MON),
    Rule(READ, "/v1/sync/xref", _MON),
    Rule(READ, "/v1/sync/conflicts", _MON),
    Rule(READ, "/v1/sync/conflicts/*", _MON),
    Rule(READ, "/v1/screen-pop/sessions", _MON),
    Rule(READ, "/v1/adapters/*/analytics/**", _MON),
    Rule(READ, "/v1/adapters/pbx/presence", _READERS),
    Rule(READ, "/v1/adapters/pbx/route", _MON),
    # operators: the customer view, screen pop, click-to-call, call results
    Rule(READ, "/v1/customers/**", _OPS),
    Rule(READ, "/v1/screen-pop/stream", _OPS, query_token=True),
    Rule(frozenset({"POST"}), "/v1/calls/originate", _OPS),
    Rule(frozenset({"POST"}), "/v1/calls/*/result", _OPS),
    Rule(frozenset({"POST"}), "/v1/adapters/crm/click-to-call", _OPS | _INT),
    Rule(READ, "/v1/adapters/pbx/calls", _OPS | _MON),
    Rule(frozenset({"PUT"}), "/v1/adapters/pbx/presence/*", _OPS | _INT),
    Rule(READ, "/v1/adapters/docflow/documents/**", _OPS | _INT),
    Rule(READ, "/v1/sync/customers", _OPS | _INT),
    Rule(READ, "/v1/sync/customers/*", _OPS | _INT),
    # integrators: replay and edit, resolve conflicts, act on adapters
    Rule(frozenset({"POST"}), "/v1/dlq/*/replay", _INT),
    Rule(frozenset({"POST"}), "/v1/sync/conflicts/*/resolve", _INT),
    Rule(ALL, "/v1/adapters/**", _INT),
    # /v1/audit and anything else: admin only (no rule)
)

_DOCS: tuple[Rule, ...] = (
    Rule(READ, "/docs", PUBLIC), Rule(READ, "/docs/oauth2-redirect", PUBLIC),
    Rule(READ, "/redoc", PUBLIC), Rule(READ, "/openapi.json", PUBLIC),
)
_DOCS_SIGNED_IN: tuple[Rule, ...] = tuple(
    Rule(rule.methods, rule.pattern, ANY_ROLE) for rule in _DOCS)
_ADMIN_ONLY = Rule(ALL, "/**", frozenset({ADMIN}))
_DECISIONS_KEPT = 4096


@dataclass(frozen=True)
class Policy:
    """:data:`POLICY` with this deployment's switches and the routes marked as signed."""

    public_metrics: bool = False
    public_docs: bool = True
    signed_routes: tuple[tuple[str, str], ...] = ()
    """(method, path template) of routes marked with :data:`SIGNATURE_MARKER`."""

    @cached_property
    def rules(self) -> tuple[Rule, ...]:
        signed = tuple(Rule(frozenset({method}), _template_to_pattern(path), PUBLIC)
                       for method, path in self.signed_routes)
        metrics = (Rule(READ, "/metrics", PUBLIC),) if self.public_metrics else ()
        docs = _DOCS if self.public_docs else _DOCS_SIGNED_IN
        return (*signed, *metrics, *docs, *POLICY)

    @cached_property
    def _decided(self) -> dict[tuple[str, str], Rule]:
        """(method, path) -> its rule: some forty patterns tried once per path, not per call."""
        return {}

    def rule_for(self, method: str, path: str) -> Rule:
        key = (method, path)
        decided = self._decided.get(key)
        if decided is None:
            decided = next((rule for rule in self.rules if rule.matches(method, path)),
                           _ADMIN_ONLY)
            if len(self._decided) >= _DECISIONS_KEPT:  # paths carry ids: stay bounded
                self._decided.clear()
            self._decided[key] = decided
        return decided

    def with_signed(self, routes: Iterable[tuple[str, str]]) -> Policy:
        return Policy(self.public_metrics, self.public_docs, tuple(routes))


def _template_to_pattern(path: str) -> str:
    """``/webhooks/{kind}`` -> ``/webhooks/*``; ``{rest:path}`` -> ``**``."""
    parts = []
    for segment in path.split("/"):
        if segment.startswith("{") and segment.endswith(":path}"):
            parts.append("**")
            break
        parts.append("*" if segment.startswith("{") and segment.endswith("}") else segment)
    return "/".join(parts)
