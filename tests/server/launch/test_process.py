"""The one child-process helper: a failed start explains itself with the log, and stop leaves
nothing of the process group behind, even when the group's leader has already exited."""

import os

import pytest

from devstack import free_port
from server.launch.process import ChildProcess, StartupError, tail_of

from ...processes import alive
from ...waiting import wait_until


def test_a_child_that_exits_while_starting_is_reported_with_its_log(tmp_path):
    child = ChildProcess("toy", ["sh", "-c", "echo starting up; echo no GPU here >&2; exit 3"], tmp_path / "toy.log")
    child.start()
    with pytest.raises(StartupError) as err:
        child.wait_healthy(f"http://127.0.0.1:{free_port()}/health", timeout_s=30, poll_s=0.05)
    assert "toy exited with status 3 while starting" in str(err.value)
    assert "no GPU here" in str(err.value) and str(tmp_path / "toy.log") in str(err.value)


def test_a_child_that_never_gets_healthy_times_out_with_its_log(tmp_path):
    child = ChildProcess("toy", ["sh", "-c", "echo waiting; exec sleep 30"], tmp_path / "toy.log")
    child.start()
    try:
        with pytest.raises(StartupError, match="toy was not healthy after 0 s") as err:
            child.wait_healthy(f"http://127.0.0.1:{free_port()}/health", timeout_s=0.3, poll_s=0.05)
        assert "waiting" in str(err.value)
    finally:
        child.stop(grace_s=5)
    assert not child.running


def test_stop_kills_the_group_even_when_its_leader_has_already_exited(tmp_path):
    # The leader leaves a worker behind in its process group, as a crashed vLLM leaves engine workers.
    pid_file = tmp_path / "worker.pid"
    child = ChildProcess("toy", ["sh", "-c", f"sleep 300 & echo $! > {pid_file}; exit 0"], tmp_path / "toy.log")
    child.start()
    wait_until(lambda: pid_file.exists() and pid_file.read_text().strip(), 10, "the worker's pid in its file")
    worker = int(pid_file.read_text())
    wait_until(lambda: not child.running, 10, "the group's leader exited")
    assert alive(worker) and os.getpgid(worker) == child.proc.pid
    assert child.stop(grace_s=5) == 0
    wait_until(lambda: not alive(worker), 10, "the worker ended: it outlived stop()")


def test_stop_terminates_a_running_group_and_returns_the_status(tmp_path):
    child = ChildProcess("toy", ["sh", "-c", "sleep 300 & wait"], tmp_path / "toy.log")
    child.start()
    assert child.running
    assert child.stop(grace_s=5) == -15  # SIGTERM
    assert not child.running


def test_tail_of_a_missing_log_says_so(tmp_path):
    assert tail_of(tmp_path / "none.log", 5) == "(no log)"
    (tmp_path / "some.log").write_text("".join(f"line {i}\n" for i in range(10)))
    assert tail_of(tmp_path / "some.log", 2) == "line 8\nline 9\n"
