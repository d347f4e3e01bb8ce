"""The docs' examples stay true: every ``granite-certainty`` command parses with the real
command-line parser (nothing is run), every ``python -m`` module and ``python FILE`` script of
the project exists, every test a ``pytest`` command names exists, every ``make`` target is the
Makefile's, every ``GRANITE_CERTAINTY_*`` variable and dotted settings key names a setting, every
Python block compiles and every JSON block parses."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import re
import shlex
from pathlib import Path

import pytest

from devstack import config_reference
from server.cli import parser
from server.settings import ENV_PREFIX, Settings
from tests.test_docs import REPO, documents

FENCE = re.compile(r"^(```|~~~)([\w-]*)[^\n]*\n(.*?)^\1[^\n]*$", re.MULTILINE | re.DOTALL)
INLINE = re.compile(r"`([^`\n]+)`")
SHELL = {"bash", "sh", "shell", "console"}
#: Top-level packages of the project: ``python -m`` of anything else (pytest, pip, vllm) is not ours to check.
PROJECT = {"server", "devstack", "intrinsics", "evaluation", "batch", "tiny_granite", "bench"}
SECTIONS = ("model", "adapters[]", "vllm", "certainty", "limits", "admin")


def ids(path: Path) -> str:
    return str(path.relative_to(REPO))


def blocks(text: str, languages: set[str]) -> list[str]:
    """The bodies of the fenced code blocks of ``text`` in one of ``languages``."""
    return [body for _, lang, body in FENCE.findall(text) if lang in languages]


def inline_code(text: str) -> list[str]:
    """The inline code spans of ``text``, outside fenced blocks."""
    return INLINE.findall(FENCE.sub("", text))


def shell_commands(text: str) -> list[list[str]]:
    """Each simple command of the shell blocks and of the inline code spans that start as one:
    its words, comments, ``$(...)`` and continuation lines handled, split at ``&&``, ``||``, ``;``
    and ``|``, with the leading ``NAME=value`` assignments dropped."""
    lines = []
    for body in blocks(text, SHELL):
        lines += body.replace("\\\n", " ").splitlines()
    lines += [span for span in inline_code(text) if re.match(r"(\.venv/bin/)?(granite-certainty|python3?) ", span)]
    commands = []
    for line in lines:
        line = re.sub(r"\$\([^()]*\)", "VALUE", line)
        try:
            words = shlex.split(line, comments=True)
        except ValueError:
            continue
        current: list[str] = []
        for word in [*words, "&&"]:
            if word in ("&&", "||", ";", "|", "&"):
                while current and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", current[0]):
                    current.pop(0)
                if current and current[0] != "export":
                    commands.append(current)
                current = []
            else:
                current.append(word)
    return commands


def optional_brackets_removed(words: list[str]) -> list[str]:
    """``[--url URL]`` (a usage line's optional part) as ``--url URL``."""
    return [w.strip("[]") for w in words if w.strip("[]")]


def subcommands(words: list[str]) -> bool:
    """Whether ``words`` are only a chain of subcommand names (``eval metrics``): a command
    named in prose, not an example to run."""
    current = parser()
    for word in words:
        choices = next((a.choices for a in current._actions if isinstance(a.choices, dict)), None)
        if not choices or word not in choices:
            return False
        current = choices[word]
    return True


def cli_problem(args: list[str]) -> str | None:
    """Why ``granite-certainty ARGS`` does not parse, or None (``--help`` prints nothing here)."""
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            parser().parse_args(optional_brackets_removed(args))
    except SystemExit as exc:
        return None if exc.code == 0 or (args and subcommands(args)) else "does not parse"
    return None


def pytest_problem(args: list[str]) -> str | None:
    """A ``tests/...`` path or ``path::test`` that a ``pytest`` command names and that does not exist."""
    for arg in args:
        if not arg.startswith("tests/"):
            continue
        path, _, name = arg.partition("::")
        if not (REPO / path).exists():
            return f"no {path}"
        if name and not re.search(rf"^(async )?def {re.escape(name)}\(", (REPO / path).read_text(), re.MULTILINE):
            return f"no test {name} in {path}"
    return None


def python_problem(words: list[str]) -> str | None:
    """Why ``python -m MODULE ...`` or ``python FILE ...`` names nothing of the project, or None."""
    if words[1:2] == ["-m"] and len(words) > 2:
        module, args = words[2], words[3:]
        if module == "pytest":
            return pytest_problem(args)
        if module == "server.cli":
            return cli_problem(args)
        if module.split(".")[0] in PROJECT and importlib.util.find_spec(module) is None:
            return f"no module {module}"
    elif len(words) > 1 and words[1].endswith(".py") and words[1].split("/")[0] in PROJECT and "<" not in words[1]:
        if not (REPO / words[1]).is_file():
            return f"no file {words[1]}"
    return None


def command_problem(words: list[str]) -> str | None:
    """Why the shell command ``words`` is not true of this project, or None."""
    program = Path(words[0]).name
    if program == "granite-certainty":
        return cli_problem(words[1:])
    if re.fullmatch(r"python(3(\.\d+)?)?", program):
        return python_problem(words)
    return None


def make_targets() -> set[str]:
    """The Makefile's targets."""
    text = (REPO / "Makefile").read_text()
    return set(re.findall(r"^([a-z][a-z0-9-]*)\s*:(?!=)", text, re.MULTILINE))


def named_make_targets(text: str) -> set[str]:
    """The targets of every ``make`` command in the code of ``text`` (blocks and inline)."""
    code = [*blocks(text, SHELL | {""}), *inline_code(text)]
    return {t for chunk in code for t in re.findall(r"(?:^|[\s;&|(`])make ([a-z][a-z0-9-]*)", " " + chunk)}


def setting_keys() -> set[str]:
    """Every settings key, dotted (``limits.max_n``, ``adapters[].name``)."""

    def walk(model, prefix: str) -> list[str]:
        out = []
        for name, info in model.model_fields.items():
            nested, is_list = config_reference.inner_model(info.annotation)
            key = prefix + name + ("[]" if is_list else "")
            out += [key, *walk(nested, key + ".")] if nested else [key]
        return out

    return set(walk(Settings, ""))


#: Keys whose value is a map: a variable may name an entry below them.
MAPS = {"vllm.env"}


def env_problem(name: str, keys: set[str]) -> str | None:
    """Why the variable ``name`` (``GRANITE_CERTAINTY_...``) names no setting, or None."""
    rest = name[len(ENV_PREFIX) :]
    if not rest:
        return None  # the prefix itself
    key = rest.lower().replace("__", ".")
    if key.endswith("."):  # GRANITE_CERTAINTY_LIMITS__<KEY>: a section
        return None if any(k.startswith(key) for k in keys) else "names no section"
    if key in keys or f"{key}[]" in keys or any(key.startswith(m + ".") for m in MAPS):
        return None
    return "names no setting"


def settings_key_problem(span: str, keys: set[str]) -> str | None:
    """Why an inline code span that is a dotted settings key (``vllm.startup_timeout_s``) names
    no setting, or None; spans that are not of that shape are not checked."""
    if not re.fullmatch(r"(model|adapters\[\]|vllm|certainty|limits|admin)(\.[a-z_]+)+", span):
        return None
    return None if span in keys else "names no setting"


USER_DOCS = [d for d in documents() if not d.is_relative_to(REPO / "docs" / "contributing")]


@pytest.mark.parametrize("doc", documents(), ids=ids)
def test_every_command_of_the_docs_parses_and_names_what_exists(doc):
    problems = [f"{' '.join(c)}: {why}" for c in shell_commands(doc.read_text()) if (why := command_problem(c))]
    assert not problems, f"{ids(doc)}: " + "; ".join(problems)


@pytest.mark.parametrize("doc", documents(), ids=ids)
def test_every_make_target_named_is_the_makefiles(doc):
    missing = named_make_targets(doc.read_text()) - make_targets()
    assert not missing, f"{ids(doc)} names make targets the Makefile lacks: {sorted(missing)}"


@pytest.mark.parametrize("doc", documents(), ids=ids)
def test_every_environment_variable_names_a_setting(doc):
    keys = setting_keys()
    names = set(re.findall(rf"{ENV_PREFIX}[A-Z0-9_]*", doc.read_text()))
    problems = [f"{n}: {why}" for n in sorted(names) if (why := env_problem(n, keys))]
    assert not problems, f"{ids(doc)}: " + "; ".join(problems)


@pytest.mark.parametrize("doc", USER_DOCS, ids=ids)
def test_every_dotted_settings_key_names_a_setting(doc):
    keys = setting_keys()
    spans = set(inline_code(doc.read_text()))
    problems = [f"{s}: {why}" for s in sorted(spans) if (why := settings_key_problem(s, keys))]
    assert not problems, f"{ids(doc)}: " + "; ".join(problems)


@pytest.mark.parametrize("doc", documents(), ids=ids)
def test_every_python_block_compiles_and_every_json_block_parses(doc):
    text = doc.read_text()
    for n, body in enumerate(blocks(text, {"python"})):
        compile(body, f"{ids(doc)} python block {n + 1}", "exec")
    for n, body in enumerate(blocks(text, {"json"})):
        try:
            json.loads(body)
        except ValueError as exc:
            pytest.fail(f"{ids(doc)} json block {n + 1}: {exc}")


def test_the_checks_find_what_is_wrong():
    keys = setting_keys()
    doc = "```bash\nGRANITE_CERTAINTY_API_KEY=$(openssl rand) .venv/bin/granite-certainty serve --confg x.yaml\n```"
    [words] = shell_commands(doc)
    assert words[0] == ".venv/bin/granite-certainty" and command_problem(words) == "does not parse"
    assert command_problem(["granite-certainty", "serve", "--config", "x.yaml", "--workers", "2"]) is None
    assert command_problem(["granite-certainty", "switch-layout", "DIR", "[--url", "http://x]"]) is None
    assert command_problem(["granite-certainty", "eval", "metrics"]) is None  # named in prose
    assert command_problem(["granite-certainty", "evaluate"]) == "does not parse"
    assert command_problem(["python", "-m", "devstack.nothing"]) == "no module devstack.nothing"
    assert command_problem(["python", "bench/nothing.py"]) == "no file bench/nothing.py"
    assert command_problem(["python", "-m", "pytest", "tests/test_docs.py::test_nothing"]) == (
        "no test test_nothing in tests/test_docs.py"
    )
    assert named_make_targets("run `make tests` and\n```bash\nmake clean && make install\n```") == {
        "tests",
        "clean",
        "install",
    }
    assert "install" in make_targets() and "tests" not in make_targets()
    assert env_problem(f"{ENV_PREFIX}VLLM__STARTUP_TIMEOUT_S", keys) is None
    assert env_problem(f"{ENV_PREFIX}VLLM__STARTUP_TIMEOUT", keys) == "names no setting"
    assert env_problem(f"{ENV_PREFIX}LIMITS__", keys) is None and env_problem(f"{ENV_PREFIX}VLLM__ENV__X", keys) is None
    assert settings_key_problem("certainty.fallback.timeout_s", keys) is None
    assert settings_key_problem("certainty.fallback.timeout", keys) == "names no setting"
    assert settings_key_problem("server/app.py", keys) is None
