"""The demo's call-quality check (``demo.call_quality``) as an adapter, for ``esb run``.

It dead-letters a call without a caller number, which gives the DLQ commands
something real to work on.
"""

from __future__ import annotations

from bus.adapters import Adapter, AdapterManifest
from demo.call_quality import router as call_log


class CallLogAdapter(Adapter):
    manifest = AdapterManifest(
        name="call-log", version="1.0", description="Logs ended calls in the (demo) CRM",
        consumes=("pbx.call.ended.v1",),
    )
    router = call_log
