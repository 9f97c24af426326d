"""AsyncAPI: the bus's channels, operations and message schemas, generated from the registry."""

from bus.asyncapi.document import ASYNCAPI_VERSION, asyncapi_document, matching, usage_of
from bus.asyncapi.schemas import ComponentSchemas, UnresolvableReference

__all__ = ["ASYNCAPI_VERSION", "ComponentSchemas", "UnresolvableReference",
           "asyncapi_document", "matching", "usage_of"]
