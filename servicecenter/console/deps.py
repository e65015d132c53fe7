"""Dependencies shared by the console's routers: the settings, the knowledge base and one
database session per request.

A request's handler and its dependencies share one session (one transaction): committed when
the handler returns, rolled back when it raises, before the response is sent.
"""

from __future__ import annotations

from typing import Annotated, Any, Iterator

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from servicecenter.db import new_session
from servicecenter.knowledge.repository import KnowledgeRepository
from servicecenter.settings import Settings


def app_settings(request: Request) -> Settings:
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(app_settings)]


def get_session(request: Request) -> Iterator[Session]:
    """The request's database session: commit on success, rollback on error."""
    session = new_session(request.app.state.settings.db_url)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# scope="function": the commit happens before the response leaves, so a redirect's next page
# already sees what this request wrote.
DbSession = Annotated[Session, Depends(get_session, scope="function")]


def knowledge_repository(request: Request) -> KnowledgeRepository:
    """The app's knowledge repository (it reloads when the imported knowledge changes)."""
    repo = getattr(request.app.state, "knowledge", None)
    if repo is None:
        repo = request.app.state.knowledge = KnowledgeRepository(request.app.state.settings.db_url)
    return repo


def current_knowledge(request: Request) -> Any:
    return knowledge_repository(request).get()


__all__ = ["DbSession", "SettingsDep", "app_settings", "current_knowledge", "get_session", "knowledge_repository"]
