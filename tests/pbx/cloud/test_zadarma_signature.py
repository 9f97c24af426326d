"""Zadarma's signature: base64 of the hex HMAC-SHA1 of the event's fields in documented order."""

from __future__ import annotations

import base64
import hashlib
import hmac

from adapters.pbx.cloud.signature import SIGNED_FIELDS, sign, signed_text, verify

FORM = {"event": "NOTIFY_START", "call_start": "2024-03-12 09:15:07",
        "pbx_call_id": "in_000000000001", "caller_id": "79123456789",
        "called_did": "74951234567"}


def php_signature(secret: str, text: str) -> str:
    """``base64_encode(hash_hmac('sha1', $text, $secret))`` as in Zadarma's PHP example."""
    hex_digest = hmac.new(secret.encode(), text.encode(), hashlib.sha1).hexdigest()
    return base64.b64encode(hex_digest.encode()).decode()


def test_the_signature_is_the_php_formula_over_caller_did_and_start() -> None:
    expected = php_signature("s3cret", "79123456789" + "74951234567" + "2024-03-12 09:15:07")

    assert sign("s3cret", FORM) == expected
    assert verify("s3cret", FORM, expected)


def test_each_event_signs_its_own_fields_in_order() -> None:
    form = {"event": "", "caller_id": "A", "called_did": "B", "destination": "C",
            "internal": "D", "call_start": "E"}
    texts = {event: signed_text({**form, "event": event}) for event in SIGNED_FIELDS}

    assert texts == {"NOTIFY_START": "ABE", "NOTIFY_INTERNAL": "ABE", "NOTIFY_ANSWER": "ACE",
                     "NOTIFY_END": "ABE", "NOTIFY_OUT_START": "DCE", "NOTIFY_OUT_END": "DCE"}


def test_a_wrong_secret_a_changed_field_or_no_signature_is_refused() -> None:
    good = sign("s3cret", FORM)

    assert not verify("other", FORM, good)
    assert not verify("s3cret", {**FORM, "caller_id": "79990000000"}, good)
    assert not verify("s3cret", FORM, None)
    assert not verify("", FORM, sign("", FORM))
    assert not verify("s3cret", {**FORM, "event": "NOTIFY_RECORD"}, good)
