"""Run conversations from JSON Lines through the trained model and the real actions.

Input line:  {"id": str, "turns": [str, ...], "channel": "chat" | "voice"} (other keys ignored)
Output line: {"id": str, "turns": [{"text", "intent", "confidence", "service", "candidates",
              "outcome", "department", "reply"}, ...]}
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

from servicecenter.input_guard import check_message
from servicecenter.settings import Settings

log = logging.getLogger(__name__)

CHANNELS = ("chat", "voice")
TURN_SLOTS = ("outcome", "service", "department", "candidates")


class BatchInputError(ValueError):
    """The input file is malformed; the message names the line and the field."""


@dataclass(frozen=True)
class Case:
    id: str
    turns: List[str]
    channel: str


def parse_cases(lines: List[str], source: str = "input") -> List[Case]:
    """Validate every line first, so a bad file changes nothing and names all problems."""
    cases: List[Case] = []
    problems: List[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as err:
            problems.append(f"{source}:{number}: not valid JSON ({err.msg})")
            continue
        if not isinstance(data, dict):
            problems.append(f"{source}:{number}: each line must be a JSON object")
            continue
        case_id, turns, channel = data.get("id"), data.get("turns"), data.get("channel", "chat")
        line_problems = []
        if not isinstance(case_id, str) or not case_id:
            line_problems.append("field 'id' must be a non-empty string")
        if not isinstance(turns, list) or not turns or not all(isinstance(t, str) for t in turns):
            line_problems.append("field 'turns' must be a non-empty list of strings")
        if channel not in CHANNELS:
            line_problems.append("field 'channel' must be 'chat' or 'voice'")
        if line_problems:
            problems.extend(f"{source}:{number}: {p}" for p in line_problems)
        else:
            cases.append(Case(case_id, list(turns), channel))
    if problems:
        raise BatchInputError("\n".join(problems))
    return cases


def _turn_record(text: str, tracker: Any, replies: List[str]) -> Dict[str, Any]:
    from rasa.shared.core.events import SlotSet, UserUttered

    events = list(tracker.events)
    last_user = max(i for i, e in enumerate(events) if isinstance(e, UserUttered))
    parse = events[last_user].parse_data or {}
    slots: Dict[str, Any] = {}
    for event in events[last_user + 1:]:
        if isinstance(event, SlotSet) and event.key in TURN_SLOTS:
            slots[event.key] = event.value
    intent = parse.get("intent") or {}
    return {
        "text": text,
        "intent": intent.get("name"),
        "confidence": round(float(intent.get("confidence") or 0.0), 4),
        "service": slots.get("service"),
        "candidates": list(slots.get("candidates") or []),
        "outcome": slots.get("outcome", "fallback"),
        "department": slots.get("department"),
        "reply": "\n".join(replies),
    }


class BatchRunner:
    """Holds one loaded agent; runs each case as a fresh conversation."""

    def __init__(self, agent: Any):
        self.agent = agent

    async def run_case(self, case: Case) -> Dict[str, Any]:
        from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

        channel_name = "voice" if case.channel == "voice" else "rest"

        class _Output(CollectingOutputChannel):
            @classmethod
            def name(cls) -> str:
                return channel_name

        sender = f"batch-{secrets.token_hex(12)}"
        turns = []
        for text in case.turns:
            checked = check_message(text)
            if not checked.ok:
                turns.append({
                    "text": text, "intent": None, "confidence": 0.0, "service": None,
                    "candidates": [], "outcome": "fallback", "department": None,
                    "reply": checked.reply,
                })
                continue
            output = _Output()
            await self.agent.handle_message(
                UserMessage(checked.text, output, sender, input_channel=channel_name)
            )
            tracker = await self.agent.tracker_store.retrieve(sender)
            replies = [m.get("text") for m in output.messages if m.get("text")]
            turns.append(_turn_record(text, tracker, replies))
        return {"id": case.id, "turns": turns}

    async def run(self, cases: List[Case], concurrency: int = 4) -> List[Dict[str, Any]]:
        semaphore = asyncio.Semaphore(max(1, concurrency))

        async def one(case: Case) -> Dict[str, Any]:
            async with semaphore:
                return await self.run_case(case)

        return list(await asyncio.gather(*(one(c) for c in cases)))


async def load_agent(model: Path, actions_url: str) -> Any:
    """Load the model with the real action server and an in-memory tracker store."""
    from rasa.core.agent import load_agent as rasa_load_agent
    from rasa.core.utils import AvailableEndpoints
    from rasa.utils.endpoints import EndpointConfig

    endpoints = AvailableEndpoints(action=EndpointConfig(url=actions_url))
    return await rasa_load_agent(model_path=str(model), endpoints=endpoints)


def isolated_settings(settings: Settings, work_dir: Path) -> Settings:
    """Settings for a scratch SQLite database holding the knowledge base.

    The actions record handoffs in the database; evaluation runs must not put test
    tickets into the inbox or the billing figures.
    """
    from servicecenter.training import load_and_import, upgrade_database

    url = f"sqlite:///{work_dir / 'evaluation.db'}"
    scratch = settings.copy(update={"database_url": url})
    upgrade_database(url)
    load_and_import(scratch, url)
    return scratch


def quiet_rasa() -> None:
    """Keep Rasa's per-turn debug trace out of the report output (it goes to stdout otherwise)."""
    from rasa.utils.log_utils import configure_structlog

    for name in ("rasa", "absl", "tensorflow"):
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("matplotlib").setLevel(logging.ERROR)
    configure_structlog(logging.WARNING)


def run_batch_file(
    input_path: Path,
    output_path: Path,
    settings: Settings,
    concurrency: int = 4,
    actions_url: Optional[str] = None,
    isolated: bool = True,
) -> int:
    """Run every case of ``input_path``; start an action server unless one is given."""
    from servicecenter.stack import free_port, latest_model, start_actions

    try:
        lines = input_path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as err:
        raise BatchInputError(f"{input_path}: file not found") from err
    except UnicodeDecodeError as err:
        raise BatchInputError(f"{input_path}: not UTF-8 text ({err.reason})") from err
    cases = parse_cases(lines, str(input_path))
    model = latest_model(settings)
    quiet_rasa()
    # A scratch database: batch runs must not put test tickets into the real inbox.
    scratch_dir = Path(tempfile.mkdtemp(prefix="batch-"))
    if isolated:
        settings = isolated_settings(settings, scratch_dir)
    action_proc = None
    if actions_url is None:
        port = free_port()
        action_proc = start_actions(settings, port, scratch_dir)
        actions_url = f"http://127.0.0.1:{port}/webhook"
    try:
        async def main() -> List[Dict[str, Any]]:
            agent = await load_agent(model, actions_url)
            return await BatchRunner(agent).run(cases, concurrency)

        results = asyncio.run(main())
    finally:
        if action_proc is not None:
            action_proc.popen.terminate()
            action_proc.popen.wait(timeout=15)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    with output_path.open("w", encoding="utf-8") as out:
        for record in results:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return len(results)
