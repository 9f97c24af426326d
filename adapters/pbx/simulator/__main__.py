"""``python -m adapters.pbx.simulator``: the AMI simulator on its own, until Ctrl+C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from pathlib import Path

from adapters.pbx.simulator.server import DEFAULT_CALLERS, AmiSimulator, SimulatorConfig


def _callers(value: str) -> tuple[str, ...]:
    """A comma-separated list, or @FILE with one number per line."""
    text = Path(value[1:]).read_text(encoding="utf-8") if value.startswith("@") else value
    numbers = tuple(n.strip() for n in text.replace(",", "\n").splitlines() if n.strip())
    if not numbers:
        raise argparse.ArgumentTypeError("no caller numbers")
    return numbers


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m adapters.pbx.simulator",
                                     description="An Asterisk AMI simulator generating calls.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5038)
    parser.add_argument("--user", default="esb")
    parser.add_argument("--secret", default="esb")
    parser.add_argument("--rate", type=float, default=0.5, help="new calls per second")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="time compression: 100 plays a 95 s call in 0.95 s")
    parser.add_argument("--calls", type=int, default=None, help="stop after this many calls")
    parser.add_argument("--callers", type=_callers, default=DEFAULT_CALLERS,
                        help="caller numbers: a,b,c or @file (one per line)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--no-wait", action="store_true",
                        help="generate calls before any client has logged in")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    config = SimulatorConfig(host=args.host, port=args.port, user=args.user, secret=args.secret,
                             rate=args.rate, speed=args.speed, max_calls=args.calls,
                             callers=args.callers, seed=args.seed,
                             start_on_login=not args.no_wait)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run(config))


async def _run(config: SimulatorConfig) -> None:
    async with AmiSimulator(config):
        await asyncio.Event().wait()


if __name__ == "__main__":
    main()
