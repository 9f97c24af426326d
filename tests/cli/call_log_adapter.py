"""The demo CRM call log (``bus.demo``) as an installable adapter, for ``esb run`` in tests.

It dead-letters a call without a caller number, which gives the DLQ commands
something real to work on.
"""

from __future__ import annotations

from bus.adapters import Adapter, AdapterManifest
from bus.demo import router as call_log


class CallLogAdapter(Adapter):
    manifest = AdapterManifest(
        name="call-log", version="1.0", description="Logs ended calls in the (demo) CRM",
        consumes=("pbx.call.ended.v1",),
    )
    router = call_log
