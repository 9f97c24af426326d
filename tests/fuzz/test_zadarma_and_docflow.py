"""Zadarma notifications (form fields) and CMIS documents (succinct properties JSON) from
outside: the pure mappings either refuse with their declared error or make canonical
payloads that pass their schema - never a crash, never an event the bus would refuse."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.docflow import mapping as docflow
from adapters.pbx.cloud.mapping import EVENTS, InvalidNotification, apply, new_call
from adapters.pbx.publisher import to_envelope
from bus.schema import default_registry
from tests.fuzz.bounds import bounded, fuzz_settings

REGISTRY = default_registry()

WORDS = st.one_of(
    st.text(max_size=24),
    st.sampled_from(["", " ", "100", "2003", "+79123456789", "8 (912) 345-67-89", "anonymous",
                     "2024-03-12 09:15:07", "2024-02-30 25:61:61", "9999-12-31 23:59:59",
                     "0001-01-01 00:00:00", "answered", "busy", "cancel", "no answer",
                     "failed", "16", "-5", "1e308", "nan", "inf", "1710224107.1837"]),
)
FORM = st.fixed_dictionaries(
    {"event": st.sampled_from(sorted(EVENTS)),
     "pbx_call_id": st.one_of(st.just("in_0123456789abcdef"), WORDS),
     "call_start": st.one_of(st.just("2024-03-12 09:15:07"), WORDS)},
    optional={name: WORDS for name in ("caller_id", "called_did", "internal", "destination",
                                       "disposition", "duration", "status_code")},
)


@fuzz_settings(200)
@given(st.lists(FORM, min_size=1, max_size=6), st.integers(0, 10**6),
       st.sampled_from(["Europe/Moscow", "Asia/Vladivostok", "UTC"]))
def test_any_zadarma_notifications_make_valid_call_events_or_a_declared_refusal(
    forms: list[dict[str, str]], step_us: int, zone: str,
) -> None:
    def run() -> list[Any]:
        call = new_call(forms[0], ZoneInfo(zone))
        now = call.started_us
        events = []
        for form in forms:
            now += step_us
            events += apply(call, {**form, "pbx_call_id": call.linkedid}, now)
        return events

    if not _well_formed(forms[0]):
        refusal = _refusal(run)
        assert isinstance(refusal, InvalidNotification) and str(refusal), refusal
        return
    for event in bounded(run, declared=()).value or []:
        REGISTRY.validate_envelope(to_envelope(event).to_dict())


@pytest.mark.parametrize("duration", ["inf", "-inf", "nan", "1e308", "junk"])
def test_an_answered_call_with_an_impossible_duration_ends_with_no_talk_time(
    duration: str,
) -> None:
    """Found by the fuzz run above: ``int(float("inf"))`` overflowed out of the mapping,
    and ``1e308`` made a talk time no integer column holds."""
    start = {"event": "NOTIFY_START", "pbx_call_id": "in_0123456789abcdef",
             "call_start": "2024-03-12 09:15:07", "caller_id": "+79123456789"}
    call = new_call(start, ZoneInfo("UTC"))
    ended = apply(call, {**start, "event": "NOTIFY_END", "disposition": "answered",
                         "duration": duration}, call.started_us + 5_000_000)
    payload = to_envelope(ended[-1]).payload
    talk = payload["talk_seconds"]
    assert payload["disposition"] == "answered"
    assert isinstance(talk, int) and 0 <= talk <= 86_400, talk


def _well_formed(form: dict[str, str]) -> bool:
    try:
        new_call(form, ZoneInfo("UTC"))
    except InvalidNotification:
        return False
    return True


def _refusal(run: Any) -> BaseException | None:
    try:
        run()
    except Exception as error:  # checked by the caller: only InvalidNotification may come
        return error
    return None


JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=30))
PROPERTY_VALUES = st.one_of(JSON_SCALARS, st.lists(JSON_SCALARS, max_size=2))
PROPERTIES = st.fixed_dictionaries(
    {"cmis:objectId": st.one_of(st.from_regex(r"[0-9A-Za-z][0-9A-Za-z._:\-]{0,20}",
                                              fullmatch=True), st.text(max_size=20))},
    optional={name: st.one_of(PROPERTY_VALUES, st.sampled_from(
        ["contract", "addendum", "invoice", "signed", "7707083893", "ЛС-00000001",
         "application/pdf; charset=x", "2024-03-12T06:15:07.000Z", "2024-03-12", "x" * 300]))
        for name in ("esb:docType", "esb:number", "esb:docDate", "esb:status", "esb:title",
                     "esb:accountNo", "esb:counterpartyName", "esb:inn", "esb:customerId",
                     "esb:externalId", "cmis:contentStreamLength",
                     "cmis:contentStreamMimeType", "cmis:lastModificationDate",
                     "cmis:creationDate", "cmis:name")},
)


@fuzz_settings(300)
@given(PROPERTIES)
def test_any_cmis_document_the_adapter_publishes_passes_the_canonical_schema(
    props: dict[str, Any],
) -> None:
    """What ``find_documents`` does: documents whose id is publishable are mapped and replied."""
    if not docflow.is_publishable_id(str(props.get("cmis:objectId") or "")):
        return
    outcome = bounded(lambda: docflow.document(props, content_base="http://esb/v1/documents"),
                      declared=())
    REGISTRY.validate("docflow.documents.replied.v1",
                      {"documents": [outcome.value], "has_more": False, "error": None})
