"""The transport contract's fixtures, for the pause suite: every transport, an exchange."""

from __future__ import annotations

from tests.transport.test_transport_contract import exchange, transport

__all__ = ["exchange", "transport"]
