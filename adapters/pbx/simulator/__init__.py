"""An AMI simulator: a TCP server on loopback that plays an Asterisk PBX with live calls.

Used by ``esb demo``, the tests and the benchmarks; run alone with
``python -m adapters.pbx.simulator --port 5038 --rate 0.5``.
"""

from adapters.pbx.simulator.scenarios import SCENARIOS, GeneratedCall
from adapters.pbx.simulator.server import DEFAULT_CALLERS, AmiSimulator, SimulatorConfig

__all__ = ["DEFAULT_CALLERS", "SCENARIOS", "AmiSimulator", "GeneratedCall", "SimulatorConfig"]
