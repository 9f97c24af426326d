from __future__ import annotations

from pathlib import Path

import pytest

from bus.schema import SchemaRegistry, XmlCodec, codec_for, default_registry

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "schemas"
SHARED = REPO.parent / "shared"
MESSAGE_TYPES = default_registry().known_types()


@pytest.fixture(scope="session")
def registry() -> SchemaRegistry:
    return default_registry()


@pytest.fixture(scope="session")
def codec() -> XmlCodec:
    return codec_for(default_registry())
