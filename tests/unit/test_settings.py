"""The configuration: one module with three sections, every variable documented in the
README, clear messages for wrong values, one environment for child processes."""

from __future__ import annotations

import os
import re
from typing import Dict, List

import pytest
from pydantic import BaseModel, Field, ValidationError, conint

from servicecenter import PROJECT_ROOT
from servicecenter.settings import (
    RENAMED,
    SECTIONS,
    Settings,
    SettingsError,
    TrainerSettings,
    VoiceSettings,
    child_environment,
    env_names,
    error_message,
    get_settings,
    get_trainer_settings,
    get_voice_settings,
)

GETTERS = (get_settings, get_voice_settings, get_trainer_settings)


@pytest.fixture
def clean_env(monkeypatch):
    """Only the variables a test sets; no developer's .env."""
    for key in [k for k in os.environ if k.startswith("ASSISTANT_")]:
        monkeypatch.delenv(key)
    for section in SECTIONS:
        monkeypatch.setattr(section.__config__, "env_file", None)
    for getter in GETTERS:
        getter.cache_clear()
    yield monkeypatch
    for getter in GETTERS:
        getter.cache_clear()


def readme_variables() -> set:
    """Every variable named in the first column of a README table."""
    found = set()
    for line in (PROJECT_ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        cells = line.split("|")
        if line.startswith("|") and len(cells) > 2:
            found.update(re.findall(r"`(ASSISTANT_[A-Z0-9_]+)`", cells[1]))
    return found


def test_every_setting_is_in_the_readme_table_and_every_table_row_is_a_setting():
    fields = {name for section in SECTIONS for name in env_names(section)}
    documented = readme_variables()
    assert sorted(fields - documented) == [], "settings missing from the README's tables"
    assert sorted(documented - fields) == [], "README table rows that are no setting"


def test_sections_have_their_own_prefixes_and_no_variable_twice():
    names = [name for section in SECTIONS for name in env_names(section)]
    assert len(names) == len(set(names))
    assert all(n.startswith("ASSISTANT_VOICE_") for n in env_names(VoiceSettings))
    assert all(n.startswith("ASSISTANT_TRAINER_") for n in env_names(TrainerSettings))
    general = env_names(Settings)
    assert not [n for n in general if n.startswith(("ASSISTANT_VOICE_", "ASSISTANT_TRAINER_"))]


def test_durations_say_their_unit():
    durations = [name for section in SECTIONS for name in section.__fields__
                 if any(word in name for word in ("timeout", "delay", "idle", "silence"))]
    assert len(durations) >= 6
    assert [name for name in durations if not name.endswith(("_seconds", "_ms", "_minutes"))] == []


@pytest.mark.parametrize("getter,variable,value,fix", [
    (get_settings, "ASSISTANT_CONSOLE_PORT", "70000", "between 1 and 65535"),
    (get_settings, "ASSISTANT_CONSOLE_IDLE_MINUTES", "0", "at least 1 minute"),
    (get_settings, "ASSISTANT_LOG_LEVEL", "LOUD", "DEBUG"),
    (get_settings, "ASSISTANT_PURGE_AT", "25:00", "HH:MM"),
    (get_settings, "ASSISTANT_CLARIFY_MARGIN", "1.5", "less than 1"),
    (get_settings, "ASSISTANT_SMTP_TIMEOUT_SECONDS", "0", "more than 0 seconds"),
    (get_voice_settings, "ASSISTANT_VOICE_SIP_PORT", "0", "between 1 and 65535"),
    (get_voice_settings, "ASSISTANT_VOICE_WS_PORT", "-1", "0 turns the browser microphone off"),
    (get_voice_settings, "ASSISTANT_VOICE_MAX_CALLS", "65", "between 1 and 64"),
    (get_voice_settings, "ASSISTANT_VOICE_ANSWER_DELAY_MS", "20000", "between 0 and 10000 milliseconds"),
    (get_voice_settings, "ASSISTANT_VOICE_TURN_TIMEOUT_SECONDS", "0", "more than 0 seconds"),
    (get_voice_settings, "ASSISTANT_VOICE_ROUTE_LOOKUP", "pbx", "'console', 'database'"),
    (get_trainer_settings, "ASSISTANT_TRAINER_GATE_MARGIN", "2", "between 0.0 and 1.0"),
    (get_trainer_settings, "ASSISTANT_TRAINER_EPOCHS", "0", "between 1 and 1000"),
    (get_trainer_settings, "ASSISTANT_TRAINER_CROSS_VALIDATION_FOLDS", "1", "0 (off) or between 2 and 10"),
    (get_trainer_settings, "ASSISTANT_TRAINER_TRAIN_TIMEOUT_MINUTES", "0", "at least 1 minute"),
])
def test_a_wrong_value_names_the_variable_and_the_fix(clean_env, getter, variable, value, fix):
    clean_env.setenv(variable, value)
    with pytest.raises(SettingsError) as err:
        getter()
    assert f"{variable}: " in str(err.value) and fix in str(err.value)


def test_the_log_level_is_case_insensitive(clean_env):
    clean_env.setenv("ASSISTANT_LOG_LEVEL", "debug")
    assert get_settings().log_level == "DEBUG"


@pytest.mark.parametrize("old", ["ASSISTANT_SILENCE_SECONDS", "ASSISTANT_TURN_TIMEOUT", "ASSISTANT_SIP_PORT",
                                 "ASSISTANT_SMTP_TIMEOUT"])
def test_a_variable_under_its_earlier_name_is_refused_with_the_new_name(clean_env, old):
    clean_env.setenv(old, "5")
    getter = get_settings if old == "ASSISTANT_SMTP_TIMEOUT" else get_voice_settings
    with pytest.raises(SettingsError, match=f"{old} was renamed: set {RENAMED[old]} instead"):
        getter()


def test_renamed_variables_point_to_existing_ones():
    fields = {name for section in SECTIONS for name in env_names(section)}
    assert set(RENAMED.values()) <= fields
    assert not set(RENAMED) & fields


def test_a_child_reads_exactly_the_parents_settings(clean_env, tmp_path):
    clean_env.setenv("ASSISTANT_VOICE_SIP_PASSWORD", "geheim")
    parent = Settings(var_dir=tmp_path, console_port=8123, outbox_enabled=False, console_public_url="https://x.example")
    voice = get_voice_settings().copy(update={"sip_port": 5099, "vosk_model": None})
    trainer = TrainerSettings(epochs=3)
    env = child_environment(parent, voice=voice, trainer=trainer, extra={"EXTRA": "1"},
                            base={"ASSISTANT_VOICE_VOSK_MODEL": "/elsewhere", "PATH": "/bin"})
    assert env["EXTRA"] == "1" and env["PATH"] == "/bin" and env["TF_CPP_MIN_LOG_LEVEL"] == "2"
    assert str(PROJECT_ROOT) in env["PYTHONPATH"].split(":")
    assert "ASSISTANT_VOICE_VOSK_MODEL" not in env  # None in the parent: not inherited either
    for key in list(os.environ):
        if key.startswith("ASSISTANT_"):
            clean_env.delenv(key)
    for key, value in env.items():
        if key.startswith("ASSISTANT_"):
            clean_env.setenv(key, value)
    assert Settings() == parent
    assert VoiceSettings() == voice
    assert TrainerSettings() == trainer



class _Slot(BaseModel):
    wait_seconds: conint(ge=1, le=60)  # type: ignore[valid-type]
    stage: int = Field(1, hint="1, 2 or 3")


class _Plan(BaseModel):
    slots: Dict[str, _Slot]
    extra: List[_Slot] = []


def test_messages_from_declared_limits_reach_fields_inside_mappings_and_lists():
    with pytest.raises(ValidationError) as err:
        _Plan.parse_obj({"slots": {"a": {"wait_seconds": 0, "stage": "x"}}, "extra": [{"wait_seconds": 99}]})
    messages = {".".join(map(str, e["loc"])): error_message(_Plan, e) for e in err.value.errors()}
    assert messages == {
        "slots.a.wait_seconds": "must be between 1 and 60 seconds",
        "slots.a.stage": "must be 1, 2 or 3",
        "extra.0.wait_seconds": "must be between 1 and 60 seconds",
    }


def test_a_dot_env_file_is_read_for_every_section(clean_env, tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text(
        "ASSISTANT_CONSOLE_PORT=8123\nASSISTANT_VOICE_SIP_PORT=5099\nASSISTANT_TRAINER_GATE_MARGIN=0.05\n",
        encoding="utf-8",
    )
    assert Settings(_env_file=env_file).console_port == 8123
    assert VoiceSettings(_env_file=env_file).sip_port == 5099
    assert TrainerSettings(_env_file=env_file).gate_margin == 0.05
