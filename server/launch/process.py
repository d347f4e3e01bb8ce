"""One child process in its own process group: started with a log file, waited for, always stopped.

The vLLM launcher (``server.launch.engine``) and the development stack (``devstack``) both run
their child this way: output goes to a log file whose tail explains a failed start; the child
leads a new process group, so that stopping it also stops what it spawned (vLLM's engine
workers); on Linux it can also be told to die with its parent (``PR_SET_PDEATHSIG``), which
covers a parent killed with SIGKILL.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

import httpx


class StartupError(RuntimeError):
    """A child process did not come up; the message carries the tail of its log."""


def tail_of(path: Path, lines: int) -> str:
    """The last ``lines`` lines of a log file, or ``(no log)``."""
    try:
        with open(path, errors="replace") as fh:
            return "".join(deque(fh, maxlen=lines))
    except OSError:
        return "(no log)"


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass  # not glibc/Linux: the process group still lets us stop it


class ChildProcess:
    """``cmd`` run as the leader of a new process group, its output appended to ``log_path``."""

    def __init__(
        self,
        name: str,
        cmd: list[str],
        log_path: Path,
        *,
        env: dict[str, str] | None = None,
        die_with_parent: bool = False,
    ):
        self.name, self.cmd, self.log_path = name, cmd, Path(log_path)
        self.env = env
        self.die_with_parent = die_with_parent and sys.platform == "linux"
        self.proc: subprocess.Popen | None = None

    @property
    def running(self) -> bool:
        """Whether the group leader has been started and has not exited."""
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        """Spawn the command with stdout and stderr going to the log file."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                self.cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                start_new_session=True,
                preexec_fn=_die_with_parent if self.die_with_parent else None,
            )

    def wait_healthy(
        self,
        url: str,
        timeout_s: float,
        *,
        ready: Callable[[int], bool] = lambda status: status == 200,
        poll_s: float = 0.5,
    ) -> None:
        """Poll ``url`` until its status passes ``ready``; raise ``StartupError`` with the log
        tail if the child exits first or ``timeout_s`` passes."""
        deadline = time.monotonic() + timeout_s
        with httpx.Client(timeout=2.0) as client:
            while True:
                code = self.proc.poll() if self.proc else None
                if code is not None:
                    raise StartupError(f"{self.name} exited with status {code} while starting.\n{self.log_tail()}")
                try:
                    if ready(client.get(url).status_code):
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise StartupError(f"{self.name} was not healthy after {timeout_s:.0f} s.\n{self.log_tail()}")
                time.sleep(poll_s)

    def stop(self, grace_s: float = 20.0, *, signal_group: bool = True) -> int | None:
        """SIGTERM the child (its whole group, or with ``signal_group=False`` the leader alone,
        which then stops its own children), wait up to ``grace_s``, then SIGKILL the group.

        The group is killed even when the leader has already exited: its workers may not have.
        Returns the leader's exit status (``None`` if it was never started)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self._signal(signal.SIGTERM, group=signal_group)
            try:
                self.proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL, group=True)
        self._signal(signal.SIGKILL, group=True)  # whatever of the group outlived its leader
        return self.proc.wait()

    def _signal(self, sig: signal.Signals, *, group: bool) -> None:
        try:
            if group:
                os.killpg(self.proc.pid, sig)
            else:
                self.proc.send_signal(sig)
        except (ProcessLookupError, PermissionError):
            pass  # already gone

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of the log, headed with the log's path, for error messages."""
        return f"--- last lines of {self.log_path} ---\n{tail_of(self.log_path, lines)}"
