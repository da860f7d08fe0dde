"""The ``minimq`` command line: every command in-process, every error path, and two real subprocess runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from minimq.cli import PATTERNS, main

ROOT = Path(__file__).resolve().parents[2]

DEFINITIONS = {
    "vhosts": [{"name": "/"}, {"name": "staging"}],
    "exchanges": [
        {"name": "logs", "vhost": "/", "type": "topic", "durable": True, "auto_delete": False,
         "internal": False, "arguments": {}},
        {"name": "docs", "vhost": "/", "type": "headers", "durable": True, "auto_delete": False,
         "internal": False, "arguments": {}},
    ],
    "queues": [
        {"name": "errors", "vhost": "/", "durable": True, "auto_delete": False, "arguments": {}},
        {"name": "pdfs", "vhost": "/", "durable": True, "auto_delete": False, "arguments": {}},
    ],
    "bindings": [
        {"source": "logs", "vhost": "/", "destination": "errors", "destination_type": "queue",
         "routing_key": "*.error.#", "arguments": {}},
        {"source": "docs", "vhost": "/", "destination": "pdfs", "destination_type": "queue",
         "routing_key": "", "arguments": {"x-match": "all", "format": "pdf", "pages": 5, "draft": False}},
    ],
}


@pytest.fixture
def defs(tmp_path: Path) -> str:
    path = tmp_path / "definitions.json"
    path.write_text(json.dumps(DEFINITIONS))
    return str(path)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# -- demo ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("pattern", list(PATTERNS))
def test_demo_narrates_each_pattern(capsys, pattern):
    code, out, err = run(capsys, "demo", pattern)
    assert (code, err) == (0, "")
    assert out.startswith(f"== {pattern}:")
    assert "publish " in out and "  route -> queues [" in out and "  deliver " in out


def test_demo_lines_read_like_a_transcript(capsys):
    _, out, _ = run(capsys, "demo", "publish-subscribe")
    assert "publish 'info: service started' to exchange 'logs' key ''" in out
    assert "  route -> queues ['screen', 'disk']" in out
    assert "  deliver 'info: service started' to consumer ctag-screen (queue 'screen', auto-ack)" in out
    _, out, _ = run(capsys, "demo", "work-queues")
    assert "  ack delivery tag 1 from consumer ctag-worker-1 (queue 'task_queue')" in out
    _, out, _ = run(capsys, "demo", "routing")
    assert "  route -> no queue (unroutable)" in out


def test_demo_accepts_aliases_and_numbers(capsys):
    for given in ("hello", "1", "1-hello-world", "hello_world"):
        code, out, _ = run(capsys, "demo", given)
        assert code == 0 and out.startswith("== hello-world:"), given


def test_demo_without_a_pattern_runs_all_six(capsys):
    code, out, _ = run(capsys, "demo")
    assert code == 0
    assert [line.split()[2] for line in out.splitlines() if line.startswith("== ")] == \
        [f"{name}:" for name in PATTERNS]


def test_demo_unknown_pattern_lists_the_names(capsys):
    code, out, err = run(capsys, "demo", "nope")
    assert code == 2 and out == ""
    assert err == ("minimq demo: unknown pattern 'nope'; valid names: hello-world, work-queues, "
                   "publish-subscribe, routing, topics, rpc\n")


# -- explain ---------------------------------------------------------------------------------------
def test_explain_prints_the_tree(capsys, defs):
    code, out, err = run(capsys, "explain", defs, "logs", "web.error.db")
    assert (code, err) == (0, "")
    assert out.startswith("publish to exchange 'logs' with routing key 'web.error.db', vhost '/'")
    assert "MATCH    binding '*.error.#' -> queue 'errors'" in out


def test_explain_headers_are_typed(capsys, defs):
    code, out, _ = run(capsys, "explain", defs, "docs", "", "--header", "format=pdf", "--header", "pages=5",
                       "--header", "draft=false")
    assert code == 0 and "queues reached (1)" in out
    code, out, _ = run(capsys, "explain", defs, "docs", "", "--header", "format=pdf", "--header", "pages=five",
                       "--header", "draft=false")
    assert code == 0 and "queues reached (1)" not in out


@pytest.mark.parametrize("fmt, start", [("svg", "<?xml"), ("mermaid", "flowchart"), ("dot", "digraph")])
def test_explain_draws_pictures(capsys, defs, tmp_path, fmt, start):
    target = tmp_path / f"path.{fmt}"
    code, out, err = run(capsys, "explain", defs, "logs", "web.error", "--format", fmt, "-o", str(target))
    assert (code, err) == (0, "")
    assert out == f"wrote the {fmt} explanation to {target}\n"
    assert target.read_text().lstrip().startswith(start)
    code, out, _ = run(capsys, "explain", defs, "logs", "web.error", "--format", fmt)
    assert code == 0 and out.lstrip().startswith(start)


def test_explain_in_another_vhost(capsys, defs):
    code, out, err = run(capsys, "explain", defs, "amq.direct", "x", "--vhost", "staging")
    assert (code, err) == (0, "") and "vhost 'staging'" in out


def test_explain_unknown_exchange_lists_the_existing_ones(capsys, defs):
    code, out, err = run(capsys, "explain", defs, "log", "x")
    assert code == 1 and out == ""
    assert err.startswith("minimq explain: no exchange 'log' in vhost '/'; its exchanges are: "
                          "'' (the default exchange), 'amq.direct'")
    assert "'logs'" in err and "'docs'" in err and "Traceback" not in err


def test_explain_bad_header(capsys, defs):
    code, _, err = run(capsys, "explain", defs, "docs", "", "--header", "format")
    assert code == 1
    assert err == "minimq explain: bad --header 'format': write NAME=VALUE, e.g. --header format=pdf\n"


def test_explain_unknown_vhost_lists_the_vhosts(capsys, defs):
    code, _, err = run(capsys, "explain", defs, "logs", "x", "--vhost", "prod")
    assert code == 1
    assert err == "minimq explain: unknown vhost 'prod'; the vhosts are: '/', 'staging'\n"


# -- topology --------------------------------------------------------------------------------------
def test_topology_text_by_default(capsys, defs):
    code, out, err = run(capsys, "topology", defs)
    assert (code, err) == (0, "")
    assert "logs" in out and "errors" in out and "*.error.#" in out


@pytest.mark.parametrize("fmt, start", [("svg", "<?xml"), ("mermaid", "flowchart"), ("dot", "digraph")])
def test_topology_formats(capsys, defs, tmp_path, fmt, start):
    code, out, _ = run(capsys, "topology", defs, "--format", fmt)
    assert code == 0 and out.lstrip().startswith(start)
    target = tmp_path / f"topology.{fmt}"
    code, out, _ = run(capsys, "topology", defs, "--format", fmt, "-o", str(target))
    assert code == 0 and out == f"wrote the {fmt} topology of vhost '/' to {target}\n"
    assert target.read_text().lstrip().startswith(start)


def test_topology_unknown_vhost(capsys, defs):
    code, _, err = run(capsys, "topology", defs, "--vhost", "prod")
    assert code == 1 and err == "minimq topology: unknown vhost 'prod'; the vhosts are: '/', 'staging'\n"


# -- file errors, for both definitions commands ------------------------------------------------------
@pytest.mark.parametrize("command", [["topology"], ["explain", "@FILE", "logs", "x"]])
def test_missing_file(capsys, tmp_path, command):
    missing = str(tmp_path / "nope.json")
    argv = [missing if a == "@FILE" else a for a in command] + ([missing] if command == ["topology"] else [])
    code, _, err = run(capsys, *argv)
    assert code == 1 and err == f"minimq {command[0]}: no such file: {missing}\n"


def test_invalid_json_names_line_and_column(capsys, tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{\n  "queues": [\n    {"name": "a",}\n  ]\n}\n')
    code, _, err = run(capsys, "topology", str(path))
    assert code == 1
    assert err.startswith(f"minimq topology: {path} is not valid JSON: ")
    assert "line 3 column 18" in err and "Traceback" not in err


def test_definitions_error_is_shown_as_is(capsys, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"queues": [{"name": "a", "vhost": "/", "durable": "yes"}]}))
    code, _, err = run(capsys, "explain", str(path), "", "a")
    assert code == 1
    assert err.startswith(f"minimq explain: {path}: queues[0].durable: must be")


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["explain"])
    assert exited.value.code == 2
    with pytest.raises(SystemExit) as exited:
        main([])
    assert exited.value.code == 2
    assert "usage: minimq" in capsys.readouterr().err


@pytest.mark.parametrize("command", [[], ["demo"], ["explain"], ["topology"]])
def test_every_command_has_help(capsys, command):
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("usage: minimq")


# -- as a real program ------------------------------------------------------------------------------
def _python_m(*argv: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "minimq", *argv], capture_output=True, text=True,
                          env=env, timeout=60, cwd=ROOT)


def test_python_m_minimq_help():
    done = _python_m("--help")
    assert done.returncode == 0 and done.stderr == ""
    assert "demo" in done.stdout and "explain" in done.stdout and "topology" in done.stdout


def test_python_m_minimq_demo_topics():
    done = _python_m("demo", "topics")
    assert done.returncode == 0 and done.stderr == ""
    assert "publish 'quick.orange.rabbit' to exchange 'topic_logs' key 'quick.orange.rabbit'" in done.stdout
    assert "  route -> queues ['Q1', 'Q2']" in done.stdout
    assert "  deliver 'lazy' to consumer ctag-Q2 (queue 'Q2', auto-ack)" in done.stdout


def test_the_shipped_example_definitions_work(capsys):
    example = str(ROOT / "examples" / "definitions.json")
    code, out, _ = run(capsys, "explain", example, "docs", "", "--header", "format=pdf", "--header", "pages=5",
                       "--header", "draft=false")
    assert code == 0 and "queue 'pdfs': enqueued" in out
    code, out, _ = run(capsys, "explain", example, "logs", "web.info")
    assert code == 0 and "queue 'everything-else': enqueued" in out
