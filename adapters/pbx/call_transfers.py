"""Transfers and click-to-call outcomes: the :class:`~adapters.pbx.calls.CallTracker`
handlers for ``BlindTransfer``, ``AttendedTransfer`` and ``OriginateResponse``.

``transferred_to`` is the target extension: ``Extension`` of a blind transfer; for an
attended one the ``TransferTarget`` channel (Asterisk 13.13+) or else the number the
transferer was consulting. The first answerer stays ``answered_by_extension``.
"""

from __future__ import annotations

from adapters.pbx.ami.protocol import AmiMessage
from adapters.pbx.call_record import Call
from adapters.pbx.events import CALL_TRANSFERRED
from adapters.pbx.mapping import ChannelRules

__all__ = ["TransferEvents"]


class TransferEvents:
    calls: dict[str, Call]
    rules: ChannelRules

    def _call(self, message: AmiMessage, *keys: str) -> Call | None:
        raise NotImplementedError

    def _emit(self, type_: str, call: Call, at_us: int) -> None:
        raise NotImplementedError

    def _transferred(self, call: Call | None, at_us: int, target: str | None,
                     kind: str) -> None:
        if call is None:
            return
        call.transferred_to = target if self.rules.is_extension_number(target) else None
        call.transferred_us = at_us
        call.transfer_kind = "blind" if kind == "blind" else "attended"
        self._emit(CALL_TRANSFERRED, call, at_us)

    def _on_blindtransfer(self, message: AmiMessage, at_us: int) -> None:
        if (message.get("Result") or "Success").lower() != "success":
            return
        call = self._call(message, "TransfereeLinkedid", "TransfererLinkedid")
        self._transferred(call, at_us, message.get("Extension"), "blind")

    def _on_attendedtransfer(self, message: AmiMessage, at_us: int) -> None:
        if (message.get("Result") or "Success").lower() != "success":
            return
        call = next((c for c in (self._call(message, key) for key in (
            "TransfereeLinkedid", "OrigTransfererLinkedid", "SecondTransfererLinkedid",
            "TransferTargetLinkedid")) if c is not None and c.reported), None)
        target = self.rules.extension(message.get("TransferTargetChannel"))
        if target is None:
            connected = message.get("SecondTransfererConnectedLineNum")
            target = connected if self.rules.is_extension_number(connected) else None
        self._transferred(call, at_us, target, "attended")

    def _on_originateresponse(self, message: AmiMessage, at_us: int) -> None:
        if (message.get("Response") or "").lower() != "failure":
            return
        uniqueid = message.get("Uniqueid")
        for call in self.calls.values():
            if uniqueid and uniqueid in call.channels:
                call.originate_failed = True
