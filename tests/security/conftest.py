from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from bus.masking import install_log_masking, uninstall_log_masking


@pytest.fixture
def masked_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every logger at DEBUG, with the PII masking ``esb run`` puts on the root handlers."""
    caplog.set_level(logging.DEBUG)
    install_log_masking()
    yield caplog
    uninstall_log_masking()
