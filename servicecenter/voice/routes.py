"""Where a call that needs a person goes: ``GET {console}/api/calls/{call_id}/route``.

The console answers with the handoff's target (``{"handoff_id", "department", "target":
{"kind", "uri"}}``; kind "callback" means no live transfer) or 404 when the call has no handoff. Installs without the console can
look the ticket up in the database instead (``ASSISTANT_VOICE_ROUTE_LOOKUP=database``).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Protocol, Tuple

import aiohttp

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Route:
    handoff_id: str
    department: str
    kind: str  # "queue", "sip" or "phone" (transfer to ``uri``), or "callback" (no live transfer)
    uri: str


class RouteLookup(Protocol):
    async def route(self, call_id: str) -> Optional[Route]:
        """The transfer target of ``call_id``, or None when it has no handoff."""


class RouteLookupError(RuntimeError):
    """The route could not be asked for (console down, bad answer)."""


def route_from_answer(body: Any) -> Optional[Route]:
    """A :class:`Route` from the route API's answer (see ``servicecenter.handoff.calls``)."""
    try:
        target = body["target"]
        kind, uri = target["kind"], target.get("uri")
        handoff, department = str(body["handoff_id"]), str(body["department"])
    except (KeyError, TypeError, AttributeError) as err:
        raise RouteLookupError("route API answer lacks handoff_id/department/target") from err
    if kind == "callback":  # no live transfer: the gateway offers a callback instead
        return Route(handoff, department, "callback", "")
    if kind not in ("queue", "sip", "phone") or not uri:
        return None
    return Route(handoff, department, str(kind), str(uri))


class ConsoleRoutes:
    def __init__(self, console_url: str, token: str, timeout: float = 5.0) -> None:
        self.base = console_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    async def route(self, call_id: str) -> Optional[Route]:
        url = f"{self.base}/api/calls/{call_id}/route"
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as session:
                async with session.get(url, headers={"Authorization": f"Bearer {self.token}"}) as resp:
                    if resp.status == 404:
                        return None
                    if resp.status != 200:
                        raise RouteLookupError(f"route API answered HTTP {resp.status}")
                    body = await resp.json()
        except (aiohttp.ClientError, TimeoutError, ValueError) as err:
            raise RouteLookupError(f"route API not usable: {type(err).__name__}") from err
        return route_from_answer(body)


class Knowledge:
    """The gateway's one view of the town (``servicecenter.town``): the knowledge base and
    routing.yml as the knowledge folder's files are now."""

    def __init__(self, knowledge_dir: Path) -> None:
        self.knowledge_dir = knowledge_dir

    def current(self) -> Tuple[Any, Any]:
        """(knowledge base, routing configuration)."""
        from servicecenter.town import town_config

        town = town_config(self.knowledge_dir)
        return town.kb, town.routing


class DatabaseRoutes:
    """The same answer as the console's route API, computed from the tickets and routing.yml."""

    def __init__(self, db_url: str, knowledge: Knowledge) -> None:
        self.db_url = db_url
        self.knowledge = knowledge

    def _lookup(self, call_id: str) -> Optional[Route]:
        from servicecenter.handoff.calls import call_route

        _, routing = self.knowledge.current()
        body = call_route(call_id, routing, self.db_url)
        return None if body is None else route_from_answer(body)

    async def route(self, call_id: str) -> Optional[Route]:
        return await asyncio.get_running_loop().run_in_executor(None, self._lookup, call_id)
