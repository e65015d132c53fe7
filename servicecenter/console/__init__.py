"""The console web app: the citizens' chat page, agent inbox, callback form, dashboard,
telephony route API and trainer workbench, one router per module, assembled by
:func:`servicecenter.console.app.create_app`."""

from servicecenter.console.app import create_app

__all__ = ["create_app"]
