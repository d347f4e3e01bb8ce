"""The vLLM supervisor, on a scripted child: restarts with backoff, counts them, gives up when
the attempts are spent, and never restarts once halted. (tests/integration kills a real vLLM.)"""

import threading
import time

from server.launch.process import StartupError
from server.launch.supervisor import Supervisor
from server.metrics import Metrics
from server.settings import VLLMSettings

from ...waiting import wait_until


class ScriptedVLLM:
    """A child that is up, or down; each start comes up or not as ``comes_up`` says."""

    def __init__(self, comes_up=lambda n: True):
        self.up, self.starts, self.stops, self.comes_up = True, 0, 0, comes_up
        self.proc = type("P", (), {"returncode": -9})()

    @property
    def running(self):
        return self.up

    def start(self):
        self.starts += 1
        self.up = self.comes_up(self.starts)

    def stop(self):
        self.stops += 1

    def wait_up(self):
        if not self.up:
            raise StartupError("vLLM exited with status 1 while starting")

    def log_tail(self):
        return "--- last lines ---"


def supervise(vllm, attempts=3, backoff=0.0, backoff_max=None):
    gave_up = threading.Event()
    metrics = Metrics()
    settings = VLLMSettings(
        restart_attempts=attempts, restart_backoff_s=backoff, restart_backoff_max_s=backoff_max or backoff
    )
    sup = Supervisor(vllm, settings, metrics, give_up=gave_up.set)
    sup.poll_s = 0.01
    sup.start()
    return sup, metrics, gave_up


def ended(sup, within=5.0):
    """Whether the supervisor's thread has ended (waiting for it up to ``within`` seconds)."""
    sup.join(within)
    return not sup.is_alive()


def restarts(metrics):
    return metrics.registry.get_sample_value("granite_certainty_vllm_restarts_total")


def test_a_vllm_that_dies_is_restarted_and_counted(caplog):
    vllm = ScriptedVLLM()
    sup, metrics, gave_up = supervise(vllm)
    vllm.up = False  # killed
    wait_until(lambda: vllm.starts == 1 and vllm.up, 5, "the killed vLLM restarted once, and up", poll_s=0.01)
    sup.halt()
    assert ended(sup), "the supervisor still runs 5 s after halt()"
    assert restarts(metrics) == 1 and not gave_up.is_set()
    assert vllm.stops == 1  # the old group is cleaned up before the new start
    assert "last lines" in caplog.text


def test_a_vllm_that_keeps_dying_makes_serve_give_up_after_the_attempts():
    vllm = ScriptedVLLM(comes_up=lambda n: False)
    sup, metrics, gave_up = supervise(vllm, attempts=3)
    vllm.up = False
    assert gave_up.wait(5)
    assert ended(sup), "the supervisor still runs 5 s after giving up"
    assert vllm.starts == 3 and restarts(metrics) == 3


def test_the_backoff_grows_between_failed_restarts():
    times = []
    vllm = ScriptedVLLM(comes_up=lambda n: times.append(time.monotonic()) or False)
    _, _, gave_up = supervise(vllm, attempts=3, backoff=0.1, backoff_max=1.0)
    vllm.up = False
    assert gave_up.wait(10)
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert gaps[0] >= 0.2 - 0.02 and gaps[1] >= 0.4 - 0.02  # 0.1, then 0.2, then 0.4 s


def test_once_halted_a_dead_vllm_is_not_restarted():
    vllm = ScriptedVLLM()
    sup, metrics, gave_up = supervise(vllm, backoff=0.2)
    sup.halt()
    vllm.up = False  # the shutdown stopping vLLM is not a death to recover from
    # Once the thread has ended nothing can restart vLLM any more, so this is the final count.
    assert ended(sup), "the supervisor still runs 5 s after halt()"
    assert vllm.starts == 0 and not gave_up.is_set()
