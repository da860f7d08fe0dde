"""The code blocks in README.md and docs/*.md run as written and print what they say they print.

Python blocks.  One rule, the way a reader follows a page: the ```python blocks of one file are
concatenated in order and run as ONE script (a block may use names an earlier block of the same page
defined, such as the tour's ``broker`` and ``ch``; a block is not expected to run on its own).  The
script is exactly what ``awk '/^```python/{f=1; next} /^```/{f=0} f' FILE`` extracts; it is run by a
fresh interpreter (``sys.executable``) in an empty temporary directory, with the repository root on
``PYTHONPATH``, and must exit 0 without a traceback on stderr.  Blocks that use ``pika`` need it
installed (the ``test`` extra installs it).

Shown output.  A ``print(...)`` statement (at any nesting depth) followed by a comment on its last
line shows the line it prints: ``print(x)  # text`` (a leading ``->`` is allowed:
``print(x)  # -> text``).  Comment-only lines directly below the print, at its indentation, continue
that text (a long printed line wrapped for the page); the pieces are joined with single spaces, and
whitespace runs are collapsed on both sides before comparing.  The shown lines of a file must appear
in the script's stdout in the order of the page; other output may come between them (prints without
a comment are not checked).  So: never put an explanatory comment on or directly under a print.

Shell blocks.  ```bash / ```sh blocks are not run (they install packages or start servers), but every
repository path they name (``examples/demo.py``, ``scripts/start-rabbitmq.sh``, ``-m
tests.conformance.record``) must exist; so must those named by inline commands in the prose
(`` `bash scripts/start-rabbitmq.sh` ``).
"""

from __future__ import annotations

import ast
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TIMEOUT = 120


@dataclass
class Block:
    """One fenced code block: its language, the file line of its first code line, its lines."""

    path: Path
    lang: str
    first_line: int
    lines: list[str] = field(default_factory=list)

    def where(self) -> str:
        head = next((line.strip() for line in self.lines if line.strip()), "")
        return f"{self.path.relative_to(ROOT)} block at line {self.first_line} (`{head}`)"


def blocks(path: Path) -> list[Block]:
    """Fenced blocks, with the awk rule: a line starting with ``` ends a block, ```lang opens one."""
    found: list[Block] = []
    current: Block | None = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("```"):
            lang = line[3:].strip()
            if current is None or lang.startswith("python"):   # awk: /^```python/ always (re)opens
                current = Block(path, lang, number + 1)
                found.append(current)
            else:
                current = None
            continue
        if current is not None:
            current.lines.append(line)
    return found


def python_blocks(path: Path) -> list[Block]:
    return [b for b in blocks(path) if b.lang.startswith("python")]


# -- shown output -------------------------------------------------------------------------------

@dataclass
class Shown:
    block: Block
    line: int          # the file line of the print statement
    text: str


def _norm(text: str) -> str:
    return " ".join(text.split())


def shown_output(block: Block) -> list[Shown]:
    source = "\n".join(block.lines) + "\n"
    comments: dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = tok.string[1:].strip()
    shown = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Name) and node.value.func.id == "print"):
            continue
        end = node.end_lineno
        pieces = [comments[end]] if end in comments else []
        indent = " " * node.col_offset
        for line in block.lines[end:]:        # lines after the print's last line (0-based index = end)
            if not line.startswith(indent + "#"):
                break
            pieces.append(line.strip()[1:].strip())
        if pieces:
            text = " ".join(pieces)
            text = text[2:].strip() if text.startswith("->") else text
            shown.append(Shown(block, block.first_line + node.lineno - 1, _norm(text)))
    return sorted(shown, key=lambda s: s.line)


# -- running ------------------------------------------------------------------------------------

def _script(path: Path) -> tuple[str, list[tuple[int, Block]]]:
    """The concatenated script and, per block, the script line its first line lands on."""
    lines: list[str] = []
    starts = []
    for block in python_blocks(path):
        starts.append((len(lines) + 1, block))
        lines.extend(block.lines)
    return "".join(line + "\n" for line in lines), starts


def _failing_location(stderr: str, script: Path, starts: list[tuple[int, Block]]) -> str:
    frames = re.findall(r'File "([^"]+)", line (\d+)', stderr)
    lines = [int(n) for name, n in frames if Path(name).name == script.name]
    if not lines:
        return "no frame of the script in the traceback"
    n = lines[-1]                                  # the innermost frame in the page's code
    for start, block in reversed(starts):
        if n >= start:
            return f"{block.where()}, failing at {block.path.name} line {block.first_line + n - start}"
    return f"script line {n}"


def _tail(text: str, n: int = 25) -> str:
    return "\n".join(text.rstrip().splitlines()[-n:])


DOCS_WITH_PYTHON = [p for p in DOCS if python_blocks(p)]


def test_readme_has_python_blocks() -> None:
    assert ROOT / "README.md" in DOCS_WITH_PYTHON


@pytest.mark.parametrize("path", DOCS_WITH_PYTHON, ids=lambda p: str(p.relative_to(ROOT)))
def test_python_blocks_run_as_one_script(path: Path, tmp_path: Path) -> None:
    source, starts = _script(path)
    script = tmp_path / "script" / (path.name + ".py")
    script.parent.mkdir()
    script.write_text(source, encoding="utf-8")
    workdir = tmp_path / "run"                     # empty: files the snippets write land here
    workdir.mkdir()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    proc = subprocess.run([sys.executable, str(script)], cwd=workdir, env=env, capture_output=True,
                          text=True, timeout=TIMEOUT)
    rel = path.relative_to(ROOT)
    if proc.returncode != 0 or "Traceback" in proc.stderr:
        pytest.fail(f"{rel}: its python blocks, run in order as one script, exited with {proc.returncode}\n"
                    f"{_failing_location(proc.stderr, script, starts)}\n"
                    f"--- stderr (tail) ---\n{_tail(proc.stderr)}", pytrace=False)
    printed = [_norm(line) for line in proc.stdout.splitlines()]
    position = 0
    for shown in (s for _, block in starts for s in shown_output(block)):
        if shown.text not in printed[position:]:
            pytest.fail(f"{shown.block.where()}: the output shown for the print at line {shown.line} was not "
                        f"printed (in this order)\n  shown: {shown.text}\n"
                        f"--- stdout (tail) ---\n{_tail(proc.stdout)}", pytrace=False)
        position = printed.index(shown.text, position) + 1


def test_readme_policy_output_is_checked() -> None:
    """The policies snippet's shown output is one of the checked ones (the convention still applies)."""
    checked = [s for b in python_blocks(ROOT / "README.md") for s in shown_output(b)]
    assert any("'operator policy'" in s.text and "'dead-letter-exchange': ('dlx', 'policy')" in s.text
               for s in checked), [s.text for s in checked]


@pytest.mark.skipif(shutil.which("awk") is None, reason="awk is not installed")
def test_extraction_matches_the_awk_rule() -> None:
    """What these tests run is byte for byte what the awk one-liner extracts from the page."""
    for path in DOCS:
        awk = subprocess.run(["awk", "/^```python/{f=1; next} /^```/{f=0} f", str(path)], capture_output=True,
                             text=True, check=True)
        assert _script(path)[0] == awk.stdout, path.relative_to(ROOT)


# -- shell blocks -------------------------------------------------------------------------------

_PATH_SUFFIXES = (".py", ".sh", ".md", ".toml", ".txt", ".json", ".cfg", ".ini")


def _commands(path: Path) -> list[tuple[int, str]]:
    """(file line, command) for each line of a bash/sh block and each inline command in the prose."""
    found = []
    for block in blocks(path):
        if block.lang in ("bash", "sh", "shell", "console"):
            found += [(block.first_line + i, line) for i, line in enumerate(block.lines)]
    in_fence = False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("```"):
            in_fence = not in_fence
            continue
        if not in_fence:
            found += [(number, span) for span in re.findall(r"`([^`]+)`", line)
                      if re.match(r"(bash|sh|python3?) ", span)]
    return found


def _named_paths(command: str) -> list[str]:
    try:
        words = shlex.split(command, comments=True)
    except ValueError:
        words = command.split()
    named = []
    for before, word in zip([""] + words, words):
        if word.startswith("-") or "://" in word or word.startswith(("/", "$", "~")):
            continue
        if before == "-m" and (ROOT / word.split(".")[0]).is_dir():    # a module of this repository
            named.append(word.replace(".", "/") + ".py")
        elif ("/" in word or word.endswith(_PATH_SUFFIXES)) and re.fullmatch(r"[\w./-]+", word):
            named.append(word)
    return named


def test_shell_commands_name_existing_paths() -> None:
    missing = []
    checked = 0
    for path in DOCS:
        for number, command in _commands(path):
            for name in _named_paths(command):
                checked += 1
                module_dir = ROOT / name[:-3] if name.endswith(".py") else None
                if not (ROOT / name).exists() and not (module_dir and module_dir.is_dir()):
                    missing.append(f"{path.relative_to(ROOT)} line {number}: {name!r} in `{command.strip()}`")
    assert not missing, "paths named by shell commands that do not exist:\n" + "\n".join(missing)
    assert checked >= 2, "no path found in any shell command: the extraction is broken"
