"""The town configuration: one object for knowledge, routing, quality targets and canned
responses of a knowledge folder, replaced when a file of the folder changes."""

from __future__ import annotations

import os
import shutil

import pytest

from servicecenter import PROJECT_ROOT
from servicecenter.handoff.routing import reply_due
from servicecenter.knowledge.loader import KnowledgeError
from servicecenter.town import town_config

KB_DIR = PROJECT_ROOT / "knowledge" / "geldern"


@pytest.fixture
def folder(tmp_path):
    target = tmp_path / "town"
    shutil.copytree(KB_DIR, target)
    return target


def _touch(path, text):
    stat = path.stat()
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_one_object_while_the_files_stay_the_same(folder):
    town = town_config(folder)
    assert town_config(folder) is town
    assert "reisepass" in town.kb.services and town.canned
    assert town.quality.routing is town.routing and town.quality.kb is town.kb
    assert town_config(folder).routing is town.routing  # parts load once


def test_an_edit_of_any_file_gives_a_fresh_object_and_the_old_one_stays_whole(folder):
    town = town_config(folder)
    old_routing = town.routing
    quality = folder / "quality.yml"
    _touch(quality, quality.read_text(encoding="utf-8") + "\n# edited\n")
    fresh = town_config(folder)
    assert fresh is not town and fresh.routing is not old_routing
    assert town.routing is old_routing


def test_canned_responses_follow_their_file(folder):
    path = folder / "canned_responses.yml"
    _touch(path, "responses:\n  - id: gruss\n    title: Gruß\n    text: Guten Tag!\n")
    assert [r.id for r in town_config(folder).canned] == ["gruss"]
    path.unlink()
    assert town_config(folder).canned == []


def test_a_broken_file_fails_only_the_part_that_reads_it(folder):
    town = town_config(folder)
    handbook = town.quality
    _touch(folder / "quality.yml", "retention_days: [\n")
    broken = town_config(folder)
    assert broken.routing.service_promise.reply_within_service_hours > 0
    with pytest.raises(KnowledgeError):
        assert broken.quality is None
    assert town.quality is handbook  # what was loaded stays


def test_reply_due_uses_the_given_routing(folder):
    import datetime as dt

    routing = town_config(folder).routing
    now = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.timezone.utc)  # a Monday morning
    assert reply_due(routing, now) > now
