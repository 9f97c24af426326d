"""Zadarma's notification signature: pure functions, no I/O.

Zadarma sends a ``Signature`` header with each notification (once the account has an
API key): ``base64(hex(HMAC-SHA1(secret, fields)))``, where ``fields`` is the
concatenation of some of the POSTed values, in an order fixed per event
(Zadarma API docs, "Notifications"; PHP reference:
``base64_encode(hash_hmac('sha1', $caller_id . $called_did . $call_start, $secret))``;
``hash_hmac`` returns the lowercase hex digest, and that text is what is base64-encoded):

=================  ======================================
event              signed fields, in order
=================  ======================================
NOTIFY_START       caller_id, called_did, call_start
NOTIFY_INTERNAL    caller_id, called_did, call_start
NOTIFY_ANSWER      caller_id, destination, call_start
NOTIFY_END         caller_id, called_did, call_start
NOTIFY_OUT_START   internal, destination, call_start
NOTIFY_OUT_END     internal, destination, call_start
=================  ======================================
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping

__all__ = ["SIGNATURE_HEADER", "SIGNED_FIELDS", "sign", "signed_text", "verify"]

SIGNATURE_HEADER = "Signature"

SIGNED_FIELDS: dict[str, tuple[str, ...]] = {
    "NOTIFY_START": ("caller_id", "called_did", "call_start"),
    "NOTIFY_INTERNAL": ("caller_id", "called_did", "call_start"),
    "NOTIFY_ANSWER": ("caller_id", "destination", "call_start"),
    "NOTIFY_END": ("caller_id", "called_did", "call_start"),
    "NOTIFY_OUT_START": ("internal", "destination", "call_start"),
    "NOTIFY_OUT_END": ("internal", "destination", "call_start"),
}


def signed_text(form: Mapping[str, str]) -> str:
    """The text Zadarma signs for this notification; KeyError for an event it does not sign
    the way we know."""
    return "".join(form.get(name, "") for name in SIGNED_FIELDS[form.get("event", "")])


def sign(secret: str, form: Mapping[str, str]) -> str:
    """The ``Signature`` header value of ``form`` (what Zadarma sends)."""
    digest = hmac.new(secret.encode(), signed_text(form).encode(), hashlib.sha1).hexdigest()
    return base64.b64encode(digest.encode()).decode()


def verify(secret: str, form: Mapping[str, str], signature: str | None) -> bool:
    """True when ``signature`` is Zadarma's for ``form`` under ``secret``."""
    if not secret or not signature or form.get("event") not in SIGNED_FIELDS:
        return False
    return hmac.compare_digest(sign(secret, form), signature.strip())
