"""docs/architecture.md stays true: every module, package or file of the project it names exists."""

from __future__ import annotations

import importlib.util
import re

from servicecenter import PROJECT_ROOT

DOC = PROJECT_ROOT / "docs" / "architecture.md"
# `servicecenter/voice/gateway.py`, `bot/actions/`, `servicecenter.handoff.decision.decide_handoff`
PATH = re.compile(r"`((?:servicecenter|bot|speech|benchmarks|tests|knowledge|docs)/[\w./<>-]*)`")
DOTTED = re.compile(r"`((?:servicecenter|speech|bot)(?:\.\w+)+)")


def _module_or_attribute_exists(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        name = ".".join(parts[:cut])
        try:
            spec = importlib.util.find_spec(name)
        except ModuleNotFoundError:
            spec = None
        if spec is not None:
            if cut == len(parts):
                return True
            module = importlib.import_module(name)
            obj = module
            for attribute in parts[cut:]:
                if not hasattr(obj, attribute):
                    return False
                obj = getattr(obj, attribute)
            return True
    return False


def test_the_architecture_document_names_only_paths_that_exist():
    text = DOC.read_text(encoding="utf-8")
    named = {m.split(" ")[0] for m in PATH.findall(text) if "<" not in m and "*" not in m}
    assert len(named) > 10
    missing = sorted(path for path in named if not (PROJECT_ROOT / path.rstrip("/")).exists())
    assert not missing, f"docs/architecture.md names paths that do not exist: {missing}"


def test_the_architecture_document_names_only_modules_and_functions_that_exist():
    text = DOC.read_text(encoding="utf-8")
    named = set(DOTTED.findall(text))
    assert len(named) > 10
    missing = sorted(name for name in named if not _module_or_attribute_exists(name))
    assert not missing, f"docs/architecture.md names modules or functions that do not exist: {missing}"


def test_the_readme_points_to_the_architecture_document():
    assert "docs/architecture.md" in (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
