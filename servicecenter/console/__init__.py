"""The console web app: the citizens' chat page today; agent inbox, trainer workbench and
reports join it as further routers in :mod:`servicecenter.console.app`."""

from servicecenter.console.app import create_app

__all__ = ["create_app"]
