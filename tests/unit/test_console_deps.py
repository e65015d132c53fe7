"""The console's plumbing: one database session per request, background work in the lifespan."""

from __future__ import annotations

import datetime as dt
import uuid

from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from servicecenter.console import app as console_app
from servicecenter.console.deps import DbSession
from servicecenter.db import session_scope
from servicecenter.models import User
from servicecenter.settings import Settings


def _user(name: str) -> User:
    return User(username=name, password_hash="x", role="agent", department_slug=None, active=True,
                created_at=dt.datetime.now(dt.timezone.utc))


def _exists(url: str, name: str) -> bool:
    with session_scope(url) as session:
        return session.execute(select(User.id).where(User.username == name)).first() is not None


def _app(url: str) -> FastAPI:
    router = APIRouter()

    @router.post("/ok/{name}")
    def ok(name: str, session: DbSession) -> dict:
        session.add(_user(name))
        return {"ok": True}

    @router.post("/fail/{name}")
    def fail(name: str, session: DbSession) -> dict:
        session.add(_user(name))
        session.flush()
        raise RuntimeError("after the write")

    app = FastAPI()
    app.state.settings = Settings(database_url=url)
    app.include_router(router)
    return app


def test_a_request_is_one_transaction_committed_before_the_response(session_db):
    client = TestClient(_app(session_db), raise_server_exceptions=False)
    kept, dropped = f"kept-{uuid.uuid4().hex[:8]}", f"dropped-{uuid.uuid4().hex[:8]}"
    assert client.post(f"/ok/{kept}").status_code == 200
    assert _exists(session_db, kept)  # visible as soon as the response is there
    assert client.post(f"/fail/{dropped}").status_code == 500
    assert not _exists(session_db, dropped)  # the handler raised: its write is rolled back


def test_the_lifespan_starts_and_stops_the_background_work(session_db, monkeypatch):
    seen = []

    class FakeOutbox:
        def __init__(self, settings):  # type: ignore[no-untyped-def]
            pass

        async def run_forever(self) -> None:
            seen.append("outbox")
            try:
                await console_app.asyncio.sleep(3600)
            finally:
                seen.append("outbox stopped")

    async def fake_purge(settings) -> None:  # type: ignore[no-untyped-def]
        seen.append("purge")
        try:
            await console_app.asyncio.sleep(3600)
        finally:
            seen.append("purge stopped")

    monkeypatch.setattr(console_app, "Outbox", FakeOutbox)
    monkeypatch.setattr(console_app.purge_schedule, "run_forever", fake_purge)
    app = console_app.create_app(Settings(database_url=session_db, outbox_enabled=True, purge_scheduled=True))
    with TestClient(app) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert set(seen) == {"outbox", "purge"}
    assert {"outbox stopped", "purge stopped"} <= set(seen)
