"""The AMI simulator: an asyncio TCP server that speaks AMI and generates calls.

::

    async with AmiSimulator(SimulatorConfig(port=0, rate=5, speed=100)) as sim:
        ...                     # connect an AMI client to 127.0.0.1:sim.port
        sim.generated           # ground truth: every call it played, with its disposition

Sessions: banner, ``Login`` (plain ``Secret`` or MD5 ``Challenge``/``Key``), ``Ping``,
``Events`` (event mask on/off), ``Filter`` (regular expressions, ``!`` to exclude),
``CoreShowChannels`` / ``QueueStatus`` / ``ExtensionStateList`` answered from the current
state, ``Originate`` (click-to-call) and ``Logoff``. Calls start once the first client has
logged in (unless ``start_on_login=False``), Poisson-spaced at ``rate`` calls per (real)
second; ``speed`` compresses the calls themselves: at 100 a 95 s call takes 0.95 s and its
``Timestamp`` headers still say 95 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import logging
import random
import re
import secrets
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from adapters.pbx.ami.protocol import AmiMessage, AmiParser
from adapters.pbx.simulator.channels import CallScript, Ids, Step
from adapters.pbx.simulator.scenarios import SCENARIOS, GeneratedCall, Plan, click_to_call
from adapters.pbx.simulator.session import Session, block
from adapters.pbx.simulator.state import PbxState

__all__ = ["DEFAULT_CALLERS", "AmiSimulator", "LoginMoment", "SimulatorConfig"]

log = logging.getLogger(__name__)

DEFAULT_CALLERS = ("+79123456789", "+79161234567", "89031112233", "+74951234567",
                   "4952345678", "83912345678", "+79834567890", "+78123334455")
PRIVILEGE = {"Newexten": "dialplan,all", "VarSet": "dialplan,all", "AgentCalled": "agent,all",
             "AgentConnect": "agent,all", "AgentComplete": "agent,all",
             "QueueCallerJoin": "agent,all", "QueueCallerLeave": "agent,all",
             "QueueCallerAbandon": "agent,all", "FullyBooted": "system,all"}
LIST_ACTIONS = frozenset({"coreshowchannels", "queuestatus", "extensionstatelist"})


@dataclass
class SimulatorConfig:
    host: str = "127.0.0.1"
    port: int = 5038
    user: str = "esb"
    secret: str = "esb"
    rate: float = 0.5
    """New calls per real second (0: only Originate)."""
    speed: float = 1.0
    """Time compression of the calls: 100 plays a 95 s call in 0.95 s."""
    max_calls: int | None = None
    """Stop generating after this many calls (Originates not counted)."""
    callers: tuple[str, ...] = DEFAULT_CALLERS
    agents: tuple[str, ...] = ("2001", "2002", "2003", "2004", "2005", "2006")
    dids: tuple[str, ...] = ("74951234567", "74951234568")
    queue: str = "support"
    scenarios: dict[str, float] | None = None
    """Weights by scenario name (default: the built-in mix of :data:`SCENARIOS`)."""
    seed: int | None = None
    history: int = 10_000
    """How many calls :attr:`AmiSimulator.generated` / ``finished`` remember."""
    start_on_login: bool = True
    banner: str = "Asterisk Call Manager/7.0.3"
    list_delay: float = 0.0
    """Seconds a list action (``CoreShowChannels``...) takes to answer, as on a busy PBX:
    events keep flowing meanwhile and the answer is the state when it is sent."""


@dataclass(frozen=True, slots=True)
class LoginMoment:
    """Ground truth at a session's login: what it can know of the calls so far."""

    started: int
    """Calls started (``generated``) before it."""
    up: frozenset[str]
    """Linkedids of the calls with a channel up: calls in progress at the login."""


class AmiSimulator:
    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        self.port = self.config.port
        self.generated: deque[GeneratedCall] = deque(maxlen=self.config.history)
        """Ground truth: the calls started (generated or originated), in start order."""
        self.finished: deque[GeneratedCall] = deque(maxlen=self.config.history)
        self.started_count = 0
        self.finished_count = 0
        self.logins: list[LoginMoment] = []
        """One per accepted Login, in order."""
        self.state = PbxState(self.config.agents, self.config.queue)
        self._rng = random.Random(self.config.seed)
        self._ids = Ids()
        self._sessions: set[Session] = set()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._logged_in = asyncio.Event()
        self._progress = asyncio.Event()
        self._epoch0 = time.time()
        self._mono0 = time.monotonic()

    async def __aenter__(self) -> AmiSimulator:
        await self.start()
        return self

    async def __aexit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None
                        ) -> None:
        await self.stop()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.config.host,
                                                  self.config.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self._spawn(self._generate(), "ami-sim-generator")
        log.info("AMI simulator on %s:%s (%.2f calls/s, speed x%g)", self.config.host,
                 self.port, self.config.rate, self.config.speed)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            self._server.close()
            for session in list(self._sessions):
                session.writer.close()
            await self._server.wait_closed()
            self._server = None

    async def wait_idle(self, timeout: float) -> None:
        """Until generation has finished and every call has ended."""
        async with asyncio.timeout(timeout):
            while self.finished_count < self.started_count or self._generating():
                self._progress.clear()
                await self._progress.wait()

    def clock(self) -> float:
        """The PBX's (simulated) epoch time: compressed by ``speed`` since start."""
        return self._epoch0 + (time.monotonic() - self._mono0) * self.config.speed

    # -- calls -----------------------------------------------------------------------

    def place_call(self, scenario: str | None = None) -> GeneratedCall:
        """Start one inbound call now (a random one from the configured mix by default)."""
        config = self.config
        weights = config.scenarios or {name: w for name, (_, w) in SCENARIOS.items()}
        name = scenario or self._rng.choices(list(weights), list(weights.values()))[0]
        free = self.state.free_agents()
        self._rng.shuffle(free)
        busy = [a for a in config.agents if a not in free]
        plan = Plan(caller=self._rng.choice(config.callers), did=self._rng.choice(config.dids),
                    agents=tuple(free + busy), queue=config.queue, rng=self._rng)
        script = CallScript(self.clock(), self._ids)
        truth = SCENARIOS[name][0](script, plan)
        self._play(script, truth)
        return truth

    def originate(self, agent: str, number: str, action_id: str) -> GeneratedCall:
        script = CallScript(self.clock(), self._ids)
        truth = click_to_call(script, agent, number, self.config.dids[0], action_id,
                              talk=self._rng.uniform(20, 120))
        self._play(script, truth)
        return truth

    def _generating(self) -> bool:
        return any(t.get_name() == "ami-sim-generator" and not t.done() for t in self._tasks)

    async def _generate(self) -> None:
        config = self.config
        if config.rate <= 0:
            return
        if config.start_on_login:
            await self._logged_in.wait()
        due = time.monotonic()
        for _ in itertools.count() if config.max_calls is None else range(config.max_calls):
            truth = self.place_call()
            log.info("call %s: %s from %s", truth.linkedid, truth.scenario, truth.caller_number)
            # arrivals on a schedule of their own: a late wake-up (a busy loop, a busy
            # machine) is caught up, so the rate holds instead of drifting down
            due += self._rng.expovariate(config.rate)
            await asyncio.sleep(max(0.0, due - time.monotonic()))
        self._progress.set()

    def _play(self, script: CallScript, truth: GeneratedCall) -> None:
        self.generated.append(truth)
        self.started_count += 1
        self._spawn(self._run_script(script.steps, script.start, truth))

    async def _run_script(self, steps: list[Step], start: float, truth: GeneratedCall) -> None:
        began = time.monotonic()
        for step in steps:
            delay = began + step.offset / self.config.speed - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self.emit(step, start + step.offset)
        self.finished.append(truth)
        self.finished_count += 1
        self._progress.set()

    def emit(self, step: Step, at: float) -> None:
        """Apply an event to the state and send it to every session that wants it."""
        self.state.apply(step)
        text = block([("Event", step.event), ("Privilege", PRIVILEGE.get(step.event, "call,all")),
                      ("Timestamp", f"{at:.6f}")], step.fields)
        data = text.encode()
        for session in list(self._sessions):
            if session.wants(text) and not session.writer.is_closing():
                session.writer.write(data)

    def _spawn(self, work: Coroutine[Any, Any, None], name: str | None = None) -> None:
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- sessions ------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = Session(writer)
        self._sessions.add(session)
        parser = AmiParser(expect_banner=False)
        writer.write(f"{self.config.banner}\r\n".encode())
        try:
            while not writer.is_closing():
                data = await reader.read(65536)
                if not data:
                    break
                for action in parser.feed(data):
                    if self.config.list_delay and action.name.lower() in LIST_ACTIONS:
                        await asyncio.sleep(self.config.list_delay)
                    reply = self._answer(session, action)
                    writer.write(reply.encode())
                    if action.name.lower() == "logoff":
                        await writer.drain()
                        return
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            self._sessions.discard(session)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _answer(self, session: Session, action: AmiMessage) -> str:
        name = action.name.lower()
        action_id = [("ActionID", action.action_id)] if action.action_id else []

        def reply(status: str = "Success", *extra: tuple[str, str]) -> str:
            return block([("Response", status)], action_id, extra)

        if name == "challenge":
            session.nonce = str(secrets.randbelow(10**9))
            return reply("Success", ("Challenge", session.nonce))
        if name == "login":
            if not self._authorized(session, action):
                return reply("Error", ("Message", "Authentication failed"))
            session.logged_in = True
            self.logins.append(LoginMoment(self.started_count, frozenset(
                channel.get("Linkedid", "") for channel in self.state.channels.values())))
            session.events = (action.get("Events") or "on").lower() != "off"
            self._logged_in.set()
            return (reply("Success", ("Message", "Authentication accepted"))
                    + block([("Event", "FullyBooted"), ("Privilege", "system,all"),
                             ("Timestamp", f"{self.clock():.6f}"), ("Status", "Fully Booted")]))
        if name == "logoff":
            return reply("Goodbye", ("Message", "Thanks for all the fish."))
        if not session.logged_in:
            return reply("Error", ("Message", "Permission denied"))
        if name == "ping":
            return reply("Success", ("Ping", "Pong"), ("Timestamp", f"{self.clock():.6f}"))
        if name == "events":
            session.events = (action.get("EventMask") or "on").lower() != "off"
            return reply("Success", ("Events", "On" if session.events else "Off"))
        if name == "filter":
            expression = action.get("Filter") or ""
            try:
                session.filters.append((not expression.startswith("!"),
                                        re.compile(expression.removeprefix("!"))))
            except re.error:
                return reply("Error", ("Message", "Filter Add failed"))
            return reply("Success", ("Message", "Filter Added Successfully"))
        lists = {"coreshowchannels": self.state.core_show_channels,
                 "queuestatus": self.state.queue_status,
                 "extensionstatelist": self.state.extension_state_list}
        if name in lists:
            items, complete = lists[name]()
            return (reply("Success", ("EventList", "start"), ("Message", "List follows"))
                    + "".join(block([("Event", event)], action_id, fields)
                              for event, fields in items)
                    + block([("Event", complete)], action_id,
                            [("EventList", "Complete"), ("ListItems", str(len(items)))]))
        if name == "originate":
            return self._originate(action, reply)
        return reply("Error", ("Message", "Invalid/unknown command"))

    def _originate(self, action: AmiMessage, reply: Callable[..., str]) -> str:
        channel, number = action.get("Channel") or "", action.get("Exten") or ""
        match = re.fullmatch(r"(?:PJSIP|SIP)/(\d{3,6})", channel)
        if match is None or not number:
            return reply("Error", ("Message", "Originate failed: Channel and Exten needed"))
        self.originate(match.group(1), number, action.action_id or "")
        return reply("Success", ("Message", "Originate successfully queued"))

    def _authorized(self, session: Session, login: AmiMessage) -> bool:
        if login.get("Username") != self.config.user:
            return False
        if (login.get("AuthType") or "").lower() == "md5":
            expected = hashlib.md5((session.nonce + self.config.secret).encode()).hexdigest()
            return bool(session.nonce) and login.get("Key") == expected
        return login.get("Secret") == self.config.secret
