"""Back office of the Geldern first-contact assistant: knowledge, handoff, console, reports."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

__all__ = ["PROJECT_ROOT"]
