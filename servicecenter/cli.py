"""The ``assistant`` command."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import List, Optional

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _settings():  # type: ignore[no-untyped-def]
    from servicecenter.settings import SettingsError, get_settings

    try:
        return get_settings()
    except SettingsError as err:
        sys.exit(f"error: {err}")


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from servicecenter.training import upgrade_database

    upgrade_database(args.url)
    print("database is at the latest schema")
    return 0


def cmd_knowledge_import(args: argparse.Namespace) -> int:
    from servicecenter.knowledge.loader import KnowledgeError, load_knowledge
    from servicecenter.training import load_and_import, upgrade_database

    settings = _settings()
    if args.dir:
        settings = settings.copy(update={"knowledge_dir": Path(args.dir)})
    try:
        if args.check:
            kb = load_knowledge(settings.knowledge_dir, settings.catalogue_path)
            print(f"knowledge base is valid: {len(kb.services)} services")
            return 0
        upgrade_database()
        _, summary = load_and_import(settings)
    except KnowledgeError as err:
        print(f"error: {err}", file=sys.stderr)
        print("Nothing was imported. Fix the fields named above and run the import again.", file=sys.stderr)
        return 2
    print(
        f"imported {summary.services} services, {summary.organisations} offices, "
        f"{summary.locations} locations, {summary.hours} opening hours, {summary.synonyms} synonyms"
    )
    return 0


def cmd_knowledge_export(args: argparse.Namespace) -> int:
    from servicecenter.knowledge.repository import KnowledgeRepository, KnowledgeUnavailable
    from servicecenter.knowledge.store import export_records

    _settings()
    try:
        kb = KnowledgeRepository().get()
    except KnowledgeUnavailable as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    lines = [json.dumps(r, ensure_ascii=False) for r in export_records(kb)]
    if args.out:
        Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"wrote {len(lines)} services to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write("\n".join(lines) + "\n")
    return 0


def cmd_knowledge_lookups(args: argparse.Namespace) -> int:
    from servicecenter.knowledge.loader import load_knowledge
    from servicecenter.nlu_lookups import write_lookups
    from servicecenter.training import LOOKUPS_FILE

    settings = _settings()
    kb = load_knowledge(settings.knowledge_dir, settings.catalogue_path)
    changed = write_lookups(kb, LOOKUPS_FILE)
    print(f"{LOOKUPS_FILE}: {'updated' if changed else 'up to date'}")
    return 0


def cmd_spacy_build(args: argparse.Namespace) -> int:
    from servicecenter.nlp import build_spacy_pipeline

    settings = _settings()
    built = build_spacy_pipeline(settings.spacy_model_dir, force=args.force)
    print(f"{settings.spacy_model_dir}: {'built' if built else 'up to date'}")
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    from servicecenter.knowledge.loader import KnowledgeError
    from servicecenter.training import TrainingError, prepare

    try:
        prepare(_settings(), train=not args.no_train, force=args.force)
    except KnowledgeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except TrainingError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from servicecenter.stack import StackError
    from servicecenter.supervisor import running_stack
    from servicecenter.training import prepare

    settings = _settings()
    if not args.no_prepare:
        prepare(settings)
    try:
        with running_stack(settings) as stack:
            print(f"\nChat:    http://localhost:{stack.console_port}/")
            print(f"Rasa:    {stack.rasa_url} (REST: /webhooks/rest/webhook)")
            if any(p.name == "voice" for p in stack.processes):
                from servicecenter.voice.process import sip_address

                print(f"Phone:   {sip_address()} (SIP/UDP, G.711)")
            print(f"Logs:    {settings.var_dir / 'log'}")
            print("Stop with Ctrl-C.", flush=True)
            while all(p.popen.poll() is None for p in stack.processes):
                time.sleep(1)
            dead = [p for p in stack.processes if p.popen.poll() is not None]
            for p in dead:
                print(f"error: {p.name} stopped (exit {p.popen.returncode}); see {p.log_path}", file=sys.stderr)
            return 1
    except StackError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0


def cmd_batch(args: argparse.Namespace) -> int:
    from servicecenter.batch import BatchInputError, run_batch_file

    try:
        count = run_batch_file(Path(args.input), Path(args.output), _settings(), concurrency=args.concurrency)
    except BatchInputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {count} conversations to {args.output}", file=sys.stderr)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from servicecenter.evaluation.run import run_evaluation

    return run_evaluation(_settings(), nlu_split=not args.skip_nlu_split)


def _read_new_password(from_stdin: bool) -> str:
    """The new password, twice from the terminal, or from standard input (one line, or two that match)."""
    import getpass

    if from_stdin or not sys.stdin.isatty():
        lines = sys.stdin.read().splitlines()
        first = lines[0] if lines else ""
        if len(lines) > 1 and lines[1] and lines[1] != first:
            raise ValueError("the two passwords on standard input do not match")
        return first
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != first:
        raise ValueError("the two passwords do not match")
    return first


def cmd_users_add(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from servicecenter.accounts import AccountError, add_user, check_new_user

    settings = _settings()
    try:
        # Check what needs no password first, so a typo in the role does not cost a prompt.
        check_new_user(args.username, "x" * 64, args.role, args.department)
        password = _read_new_password(args.password_stdin)
        account = add_user(args.username, password, args.role, args.department, url=settings.db_url)
    except (AccountError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        print("No user was created.", file=sys.stderr)
        return 2
    except (OperationalError, ProgrammingError):
        print("error: the database has no user table yet: run 'assistant db upgrade'", file=sys.stderr)
        return 1
    extra = f" for department {account.department_slug}" if account.department_slug else ""
    print(f"user {account.username} created with role {account.role}{extra}")
    return 0


def cmd_users_list(args: argparse.Namespace) -> int:
    from servicecenter.accounts import list_users

    users = list_users(url=_settings().db_url)
    if not users:
        print("no users")
    for user in users:
        state = "active" if user.active else "disabled"
        print(f"{user.username}\t{user.role}\t{user.department_slug or '-'}\t{state}")
    return 0


def cmd_users_disable(args: argparse.Namespace) -> int:
    from servicecenter.accounts import UnknownUser, disable_user

    try:
        disable_user(args.username, url=_settings().db_url)
    except UnknownUser as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"user {args.username} disabled; their sessions have ended")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="assistant", description="Geldern first-contact assistant")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="database schema").add_subparsers(dest="db_command", required=True)
    p = db.add_parser("upgrade", help="apply migrations")
    p.add_argument("--url", help="database URL (default: ASSISTANT_DATABASE_URL or SQLite in var/)")
    p.set_defaults(func=cmd_db_upgrade)

    kn = sub.add_parser("knowledge", help="knowledge base").add_subparsers(dest="kb_command", required=True)
    p = kn.add_parser("import", help="validate knowledge/ and load it into the database")
    p.add_argument("--dir", help="knowledge folder (default: knowledge/geldern)")
    p.add_argument("--check", action="store_true", help="only validate, change nothing")
    p.set_defaults(func=cmd_knowledge_import)
    p = kn.add_parser("export", help="write the services as JSON Lines")
    p.add_argument("--out", help="file to write (default: standard output)")
    p.set_defaults(func=cmd_knowledge_export)
    p = kn.add_parser("lookups", help="generate Rasa lookup tables and synonyms")
    p.set_defaults(func=cmd_knowledge_lookups)

    sp = sub.add_parser("spacy", help="German spaCy pipeline").add_subparsers(dest="sp_command", required=True)
    p = sp.add_parser("build", help="build models/spacy/de_geldern")
    p.add_argument("--force", action="store_true")
    p.set_defaults(func=cmd_spacy_build)

    p = sub.add_parser("prepare", help="database, knowledge, spaCy and model, each only if out of date")
    p.add_argument("--no-train", action="store_true")
    p.add_argument("--force", action="store_true", help="retrain even if nothing changed")
    p.set_defaults(func=cmd_prepare)

    p = sub.add_parser("train", help="train the Rasa model if config, domain or data changed")
    p.add_argument("--force", action="store_true")
    # Trainer workbench: a candidate in models/trainer/ (never the active model), then compared.
    p.add_argument("--candidate", action="store_true", help="train a candidate and compare it with the active model")
    p.add_argument("--epochs", type=int, help="with --candidate: DIET epochs (default: as in config.yml)")
    p.add_argument("--no-eval", action="store_true", help="with --candidate: skip the comparison")
    from servicecenter.trainer import cli as trainer_cli

    p.set_defaults(func=lambda a: trainer_cli.main_for_train(a, _settings, cmd_prepare), no_train=False)
    trainer_cli.register(sub, _settings)

    p = sub.add_parser("run", help="start action server, Rasa and the console")
    p.add_argument("--no-prepare", action="store_true", help="do not import/train first")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("batch", help="run conversations from JSON Lines through the assistant")
    p.add_argument("--in", dest="input", required=True)
    p.add_argument("--out", dest="output", required=True)
    p.add_argument("--concurrency", type=int, default=4)
    p.set_defaults(func=cmd_batch)

    p = sub.add_parser("eval", help="measure NLU and end-to-end quality, write reports/")
    p.add_argument("--skip-nlu-split", action="store_true", help="skip Rasa's held-out NLU split test")
    p.set_defaults(func=cmd_eval)

    from servicecenter.voice.cli import install as install_voice_commands

    install_voice_commands(sub)

    us = sub.add_parser("users", help="console accounts").add_subparsers(dest="users_command", required=True)
    p = us.add_parser("add", help="create a console user (asks for the password)")
    p.add_argument("username")
    p.add_argument("--role", required=True, help="agent, department, trainer, supervisor or admin")
    p.add_argument("--department", help="department slug (only for --role department)")
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p.set_defaults(func=cmd_users_add)
    p = us.add_parser("list", help="list console users")
    p.set_defaults(func=cmd_users_list)
    p = us.add_parser("disable", help="disable a console user and end their sessions")
    p.add_argument("username")
    p.set_defaults(func=cmd_users_disable)
    from servicecenter.reports.cli import add_commands as add_quality_commands  # report, purge, erase

    add_quality_commands(sub)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
