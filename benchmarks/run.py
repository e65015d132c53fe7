"""Benchmark the assistant on this machine and write ``reports/bench.json``.

Measures, in this order so that no two measurements compete for the CPU:

1. Start action server + Rasa server (``running_stack(console=False)``, scratch database):
   Rasa start-to-ready time; turn latency over HTTP (REST channel) for a fixed list of
   held-out turns, a new conversation every 3 messages, after warm-up messages.
2. In the same stack: ``load_agent`` time and in-process turn latency
   (``Agent.handle_message`` with the real action server, as ``servicecenter.batch`` does).
3. Start the console; resident memory of Rasa server, action server, console, this process.
4. Unless ``--skip-training``: a forced full ``rasa train`` into a temporary directory.

Only 127.0.0.1 is contacted; every count is fixed.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import http.client
import json
import math
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benchmarks.procs import process_age_s, tree_rss_mib  # noqa: E402
from servicecenter import PROJECT_ROOT  # noqa: E402
from servicecenter.evaluation.dataset import heldout_texts  # noqa: E402

MESSAGES = 500
WARMUP_MESSAGES = 15
TURNS_PER_CONVERSATION = 3
HTTP_TIMEOUT_S = 60.0
REST_PATH = "/webhooks/rest/webhook"
OUT_FILE = PROJECT_ROOT / "reports" / "bench.json"
TARGETS = {
    "http_p50_ms": 50.0,
    "http_p95_ms": 100.0,
    "model_load_s": 20.0,
    "training_s": 300.0,
}


# --------------------------------------------------------------------------- helpers


def message_plan(texts: Sequence[str], count: int, offset: int = 0) -> List[Tuple[int, str]]:
    """``count`` (conversation number, text) pairs cycling through ``texts`` from ``offset``."""
    return [(i // TURNS_PER_CONVERSATION, texts[(offset + i) % len(texts)]) for i in range(count)]


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def latency_figures(seconds: Sequence[float], errors: int = 0) -> Dict[str, Any]:
    ms = [s * 1000 for s in seconds]
    return {
        "messages": len(ms),
        "errors": errors,
        "p50_ms": round(percentile(ms, 50), 1),
        "p95_ms": round(percentile(ms, 95), 1),
        "mean_ms": round(sum(ms) / len(ms), 1),
        "max_ms": round(max(ms), 1),
    }


def _timed(label: str, func: Callable[[], Any]) -> Tuple[Any, float]:
    print(f"• {label}", flush=True)
    started = time.perf_counter()
    result = func()
    return result, time.perf_counter() - started


# --------------------------------------------------------------------------- HTTP


class RestClient:
    """Keeps one HTTP/1.1 connection to Rasa's REST channel, reconnecting when it drops."""

    def __init__(self, port: int):
        self.port = port
        self._conn: Optional[http.client.HTTPConnection] = None

    def send(self, sender: str, text: str) -> int:
        body = json.dumps({"sender": sender, "message": text}).encode("utf-8")
        for attempt in range(2):
            if self._conn is None:
                self._conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=HTTP_TIMEOUT_S)
            try:
                self._conn.request("POST", REST_PATH, body, {"Content-Type": "application/json"})
                response = self._conn.getresponse()
                response.read()
                return response.status
            except (http.client.HTTPException, ConnectionError):
                self._conn.close()
                self._conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


def _senders() -> Iterator[str]:
    while True:
        yield secrets.token_hex(12)


def run_http(port: int, plan: Sequence[Tuple[int, str]]) -> Tuple[List[float], int]:
    client = RestClient(port)
    senders: Dict[int, str] = {}
    fresh = _senders()
    latencies, errors = [], 0
    try:
        for conversation, text in plan:
            sender = senders.setdefault(conversation, next(fresh))
            started = time.perf_counter()
            status = client.send(sender, text)
            latencies.append(time.perf_counter() - started)
            errors += status != 200
    finally:
        client.close()
    return latencies, errors


# --------------------------------------------------------------------------- in process


async def run_in_process(agent: Any, plan: Sequence[Tuple[int, str]]) -> List[float]:
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

    from servicecenter.input_guard import check_message

    senders: Dict[int, str] = {}
    fresh = _senders()
    latencies = []
    for conversation, text in plan:
        sender = senders.setdefault(conversation, next(fresh))
        started = time.perf_counter()
        checked = check_message(text)
        if checked.ok:
            await agent.handle_message(
                UserMessage(checked.text, CollectingOutputChannel(), sender, input_channel="rest")
            )
        latencies.append(time.perf_counter() - started)
    return latencies


# --------------------------------------------------------------------------- training


def run_training(work: Path) -> float:
    cmd = [
        str(Path(sys.executable).parent / "rasa"), "train", "--force",
        "--config", str(PROJECT_ROOT / "config.yml"),
        "--domain", str(PROJECT_ROOT / "bot" / "domain"),
        "--data", str(PROJECT_ROOT / "bot" / "data"),
        "--out", str(work / "models"),
    ]
    log_path = work / "train.log"
    started = time.perf_counter()
    with log_path.open("wb") as log:
        result = subprocess.run(cmd, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        tail = log_path.read_text(errors="replace").strip().splitlines()[-10:]
        raise RuntimeError(f"rasa train failed (exit {result.returncode}):\n" + "\n".join(tail))
    return elapsed


# --------------------------------------------------------------------------- report


def target_rows(figures: Dict[str, Any]) -> List[Dict[str, Any]]:
    http_fig, load, training = figures["http"], figures["load"], figures["training"]
    rows = [
        ("HTTP turn latency p50", http_fig["p50_ms"], TARGETS["http_p50_ms"], "ms"),
        ("HTTP turn latency p95", http_fig["p95_ms"], TARGETS["http_p95_ms"], "ms"),
        ("model load (load_agent)", load["load_agent_s"], TARGETS["model_load_s"], "s"),
        ("Rasa server start to ready", load["rasa_server_start_to_ready_s"], TARGETS["model_load_s"], "s"),
        ("full training", training.get("seconds"), TARGETS["training_s"], "s"),
    ]
    return [
        {"name": name, "value": value, "target": f"<= {limit:g} {unit}",
         "met": None if value is None else value <= limit}
        for name, value, limit, unit in rows
    ]


def format_report(figures: Dict[str, Any]) -> str:
    def fmt(value: Any, unit: str) -> str:
        return "n/a" if value is None else f"{value:.1f} {unit}" if unit == "ms" else f"{value:.2f} {unit}"

    lines = [f"Benchmarks: {figures['messages']} messages per latency run, "
             f"{figures['machine']['cpus']} CPUs, load average {figures['machine']['loadavg_start']}", ""]
    rows = [("figure", "value", "target", "status")]
    for t in figures["targets"]:
        unit = "ms" if "latency" in t["name"] else "s"
        status = "skipped" if t["met"] is None else "met" if t["met"] else "MISSED"
        rows.append((t["name"], fmt(t["value"], unit), t["target"], status))
    ip = figures["in_process"]
    rows += [
        ("HTTP mean / max", f"{figures['http']['mean_ms']:.1f} / {figures['http']['max_ms']:.1f} ms", "", ""),
        ("in-process latency p50", fmt(ip["p50_ms"], "ms"), "", ""),
        ("in-process latency p95", fmt(ip["p95_ms"], "ms"), "", ""),
        ("action server start to ready", fmt(figures["load"]["action_server_start_to_ready_s"], "s"), "", ""),
    ]
    handoff = figures.get("handoff_to_inbox")
    if handoff:
        rows += [
            ("handoff request to agent inbox p50", fmt(handoff["p50_ms"], "ms"), "", ""),
            ("handoff request to agent inbox p95", fmt(handoff["p95_ms"], "ms"), "",
             f"{handoff.get('errors', 0)} not listed" if handoff.get("errors") else ""),
        ]
    for name, value in figures["memory_mib"].items():
        rows.append((f"RSS {name.replace('_', ' ')}", "n/a" if value is None else f"{value:.0f} MiB", "", ""))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    table = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    table.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines + table)


# --------------------------------------------------------------------------- main


def run(skip_training: bool, messages: int, out: Path) -> Dict[str, Any]:
    from servicecenter.batch import isolated_settings, load_agent, quiet_rasa
    from servicecenter.settings import get_settings
    from servicecenter.stack import free_port, latest_model, start_console
    from servicecenter.supervisor import running_stack

    quiet_rasa()
    settings = get_settings()
    model = latest_model(settings)
    texts = heldout_texts()
    warmup = message_plan(texts, WARMUP_MESSAGES, offset=len(texts) // 2)
    plan = message_plan(texts, messages)
    figures: Dict[str, Any] = {
        "generated_at": dt.datetime.now().isoformat(timespec="seconds"),
        "model": str(model.relative_to(PROJECT_ROOT)),
        "model_trained_at": dt.datetime.fromtimestamp(model.stat().st_mtime).isoformat(timespec="seconds"),
        "messages": messages,
        "warmup_messages": WARMUP_MESSAGES,
        "turns_per_conversation": TURNS_PER_CONVERSATION,
        "machine": {"cpus": os.cpu_count(), "loadavg_start": [round(x, 2) for x in os.getloadavg()]},
    }
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        work = Path(tmp)
        scratch = isolated_settings(settings, work)
        ports = {"rasa": free_port(), "actions": free_port(), "console": free_port()}
        print("• starting action server and Rasa server", flush=True)
        stack_started = time.perf_counter()
        with running_stack(scratch, ports=ports, log_dir=work / "log", console=False) as stack:
            stack_s = time.perf_counter() - stack_started
            procs = {p.name: p.popen.pid for p in stack.processes}
            rasa_ready_s = process_age_s(procs["rasa"])
            actions_ready_s = stack_s - rasa_ready_s

            _timed(f"HTTP warm-up ({len(warmup)} messages)", lambda: run_http(stack.rasa_port, warmup))
            (latencies, errors), _ = _timed(
                f"HTTP: {len(plan)} messages to {REST_PATH}", lambda: run_http(stack.rasa_port, plan)
            )
            figures["http"] = latency_figures(latencies, errors)
            memory = {"rasa_server": tree_rss_mib(procs["rasa"]), "action_server": tree_rss_mib(procs["actions"])}

            async def in_process() -> Tuple[float, List[float], Optional[float], Optional[float]]:
                before = tree_rss_mib(os.getpid())
                started = time.perf_counter()
                agent = await load_agent(model, stack.actions_url)
                load_s = time.perf_counter() - started
                await run_in_process(agent, warmup)
                print(f"• in process: {len(plan)} messages through Agent.handle_message", flush=True)
                measured = await run_in_process(agent, plan)
                return load_s, measured, before, tree_rss_mib(os.getpid())

            print("• in process: load_agent", flush=True)
            load_s, measured, rss_before, rss_after = asyncio.run(in_process())
            figures["in_process"] = latency_figures(measured)
            figures["load"] = {
                "load_agent_s": round(load_s, 2),
                "rasa_server_start_to_ready_s": round(rasa_ready_s, 2),
                "action_server_start_to_ready_s": round(actions_ready_s, 2),
                "stack_start_to_ready_s": round(stack_s, 2),
            }

            print("• starting the console for its memory figure", flush=True)
            console = start_console(scratch, stack.console_port, stack.rasa_port, work / "log")
            stack.processes.append(console)
            with_conn = http.client.HTTPConnection("127.0.0.1", stack.console_port, timeout=30)
            with_conn.request("GET", "/")
            with_conn.getresponse().read()
            with_conn.close()
            memory["console"] = tree_rss_mib(console.popen.pid)
            from benchmarks import trainer as trainer_bench

            figures["model_swap"], _ = _timed("model swap: PUT /model until the first answer",
                                              lambda: trainer_bench.measure_activation(stack.rasa_url, scratch))
            from benchmarks import handoff

            (figures["handoff_to_inbox"], _) = _timed(
                f"handoff: {handoff.SAMPLES} requests for a person until listed in the agent inbox",
                lambda: handoff.measure(stack.rasa_url, stack.console_url, scratch.db_url),
            )
            from benchmarks import voice as voice_bench

            figures["voice"], _ = _timed("voice: turns through the voice pipeline with 1..16 simultaneous calls",
                                         lambda: voice_bench.measure(stack.rasa_url))
            memory["in_process_agent_total"] = rss_after
            memory["in_process_agent_delta"] = (
                round(rss_after - rss_before, 1) if rss_after is not None and rss_before is not None else None
            )
            figures["memory_mib"] = memory

        if skip_training:
            figures["training"] = {"skipped": True, "seconds": None}
        else:
            figures["machine"]["loadavg_before_training"] = [round(x, 2) for x in os.getloadavg()]
            seconds, _ = _timed("training: rasa train --force into a temporary directory (minutes)",
                                lambda: run_training(work))
            figures["training"] = {"skipped": False, "seconds": round(seconds, 1)}

    from benchmarks import report as report_bench

    figures["monthly_report"], _ = _timed("monthly report: a month of 100,000 generated conversations",
                                          report_bench.measure)
    from benchmarks import trainer as trainer_bench

    figures["trainer_inbox"], _ = _timed("trainer inbox: page loads with 100,000 stored messages",
                                         trainer_bench.measure)
    figures["targets"] = target_rows(figures)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return figures


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    parser.add_argument("--skip-training", action="store_true", help="do not time a full training")
    parser.add_argument("--messages", type=int, default=MESSAGES, choices=range(10, MESSAGES + 1),
                        metavar=f"10..{MESSAGES}", help=f"messages per latency run (default {MESSAGES})")
    parser.add_argument("--out", type=Path, default=OUT_FILE, help="JSON file to write")
    args = parser.parse_args(argv)
    figures = run(args.skip_training, args.messages, args.out)
    print()
    print(format_report(figures))
    if figures.get("monthly_report"):
        from benchmarks.report import format_figures

        print("\n".join(format_figures(figures["monthly_report"])))
    if figures.get("trainer_inbox"):
        from benchmarks.trainer import format_figures as trainer_figures

        print("\n".join(trainer_figures(figures["trainer_inbox"])))
    if figures.get("model_swap"):
        swap = figures["model_swap"]
        print(f"  model swap: PUT /model {swap['put_model_s']:.2f} s, activate to first answer "
              f"{swap['activate_to_first_answer_s']:.2f} s")
    if figures.get("voice"):
        from benchmarks.voice import format_figures as voice_figures

        print("\n".join(voice_figures(figures["voice"])))
    print(f"\nwritten to {args.out}")
    missed = [t["name"] for t in figures["targets"] if t["met"] is False]
    if missed:
        print("WARNING: targets missed: " + ", ".join(missed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
