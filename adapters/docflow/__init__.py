"""The document flow over CMIS 1.1 (browser binding): a customer's documents, registering
signed documents, a polled change feed, content through the bus API. See
docs/docflow-adapter.md."""
