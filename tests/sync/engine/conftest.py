"""A small generated directory (the shared generator), made once per test session."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

GENERATOR = Path(__file__).resolve().parents[3].parent / "shared" / "datagen" / "generate.py"


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``--customers 3000 --seed 5 --noise 1.3``; skipped when ``../shared`` is absent."""
    if not GENERATOR.exists():
        pytest.skip("../shared/datagen is not beside the project")
    out = tmp_path_factory.mktemp("datagen")
    subprocess.run(
        [sys.executable, str(GENERATOR), "--customers", "3000", "--seed", "5", "--noise", "1.3",
         "--out", str(out)],
        check=True, capture_output=True,
    )  # fmt: skip
    return out
