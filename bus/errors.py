"""One error hierarchy for the whole bus.

Every error says what the bus should do with the message that caused it::

    EsbError
    ├── ConfigurationError          bad settings; the process refuses to start
    │   ├── DatabaseOutdated        the schema is older than the code: run `esb db upgrade`
    │   └── SchemaDrift             tables differ from what the migrations made: a person looks
    ├── TransientError              retry with backoff
    │   ├── TransportError          broker unreachable, connection or channel lost
    │   ├── ExternalSystemUnavailable   network error, 5xx, timeout of a backend
    │   └── RequestTimeout          no reply before the deadline (request-reply)
    └── PermanentError              dead-letter at once, with the reason
        ├── MalformedMessage        not JSON / not XML / not an envelope
        │   ├── UnsafeXml           DTD, entities, external references, bombs
        │   └── MessageTooLarge     over the configured size limit
        ├── SchemaViolation         valid syntax, wrong shape; names the field
        ├── UnknownMessageType      no schema registered for the type
        └── ExternalSystemRejected  the backend refused it (SOAP client fault, 4xx)

Each error may carry the id of the message it concerns, so a log line or a
dead-letter record always points back at the message.
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "DatabaseOutdated",
    "EsbError",
    "ExternalSystemRejected",
    "ExternalSystemUnavailable",
    "MalformedMessage",
    "MessageTooLarge",
    "PermanentError",
    "RequestTimeout",
    "SchemaDrift",
    "SchemaViolation",
    "TransientError",
    "TransportError",
    "UnknownMessageType",
    "UnsafeXml",
]


class EsbError(Exception):
    """Base of every error the bus raises on purpose."""

    def __init__(self, message: str, *, message_id: str | None = None) -> None:
        super().__init__(message)
        self.message_id = message_id

    @property
    def reason(self) -> str:
        """A one-line human reason, as stored with a dead-lettered message."""
        return f"{type(self).__name__}: {self.args[0] if self.args else ''}"


class ConfigurationError(EsbError):
    """The settings are wrong; nothing will work until they are fixed."""


class DatabaseOutdated(ConfigurationError):
    """The database's schema revision is older than this release's: ``esb db upgrade``
    brings it up to date (it is a separate step so that one process migrates, once,
    before the new release's workers start)."""


class SchemaDrift(ConfigurationError):
    """The database's tables differ from what the migrations made (changed by hand, or by
    a build that never was a release): no migration can know what to do with them."""


class TransientError(EsbError):
    """Worth trying again later: the cause is expected to go away."""


class TransportError(TransientError):
    """The broker could not be reached or dropped the connection."""


class ExternalSystemUnavailable(TransientError):
    """An external system did not answer (network error, 5xx, timeout)."""


class RequestTimeout(TransientError):
    """A request over the bus got no reply before its deadline."""


class PermanentError(EsbError):
    """Retrying cannot help; the message goes to the dead-letter queue."""


class MalformedMessage(PermanentError):
    """The bytes are not a well-formed message."""


class UnsafeXml(MalformedMessage):
    """XML that tries to load a DTD, expand entities or reach the network."""


class MessageTooLarge(MalformedMessage):
    """The message exceeds the configured size limit."""


class SchemaViolation(PermanentError):
    """The message is well-formed but does not match its canonical schema."""

    def __init__(
        self, message: str, *, field: str = "", message_id: str | None = None
    ) -> None:
        super().__init__(message, message_id=message_id)
        self.field = field


class UnknownMessageType(PermanentError):
    """No canonical schema is registered for the message type."""


class ExternalSystemRejected(PermanentError):
    """The external system refused the request as invalid."""
