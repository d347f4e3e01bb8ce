"""``granite-certainty``: serve the stack, build the tiny model, evaluate, score a file (``make demo`` is
``python -m devstack.demo``, a development tool on top of this command)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path

from .settings import DeploymentError, Settings


def serve(args: argparse.Namespace) -> int:
    """Start vLLM (unless ``--vllm-url``), then the gateway in front of it; stop both on exit."""
    from .app import create_app
    from .launch import (
        DrainingServer,
        StartupError,
        Supervisor,
        VLLMProcess,
        resolve,
        run_gateway,
        run_workers,
        use_shared_metrics,
        with_run_key,
    )
    from .upstream import trust

    settings = Settings.load(
        args.config, host=args.host, port=args.port, workers=args.workers, **{"vllm.url": args.vllm_url}
    )
    if settings.workers > 1:
        use_shared_metrics()  # before the first metric exists, in this process or a worker
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Until uvicorn installs its own handlers, SIGTERM must unwind through the `with` below
    # so that a vLLM being started is stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    if settings.vllm.url:
        if settings.workers > 1:
            trust(settings.vllm.ca_file)  # a bad ca_file fails here once, not in every worker
            run_workers(settings)
            return 0
        return run_gateway(create_app(settings), settings)
    settings = with_run_key(settings)
    dep = resolve(settings)
    # Build the app first: a bad io.yaml fails before minutes of vLLM start-up.
    app = create_app(settings, io_yamls={a.name: a.io_yaml for a in dep.adapters if a.io_yaml})
    log_path = Path(settings.cache_dir).expanduser() / "logs" / f"vllm-{settings.vllm.port}.log"
    print(f"granite-certainty: starting vLLM on port {settings.vllm.port} (log: {log_path})", flush=True)
    server = DrainingServer(app, settings)
    gave_up = []

    def give_up() -> None:
        gave_up.append(True)
        if settings.workers > 1:
            os.kill(os.getpid(), signal.SIGTERM)  # uvicorn's worker manager stops its workers
        else:
            server.fail()

    try:
        with VLLMProcess(settings, dep, log_path) as vllm:
            supervisor = Supervisor(vllm, settings.vllm, app.state.gateway.metrics, give_up=give_up)
            supervisor.start()
            try:
                run_workers(settings) if settings.workers > 1 else server.run()
            finally:
                supervisor.halt()  # before vLLM is stopped: a stop is not a death to recover from
    except StartupError as exc:
        print(f"granite-certainty: {exc}", file=sys.stderr)
        return 1
    return 1 if gave_up else server.exit_code


def build_tiny(args: argparse.Namespace) -> int:
    """Build the embedded tiny model and its adapter into a directory."""
    from tiny_granite import build_tiny_model

    paths = build_tiny_model(Path(args.dir), seed=args.seed)
    print(f"base model: {paths.base}\nadapter:    {paths.adapter}")
    return 0


def parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    p = argparse.ArgumentParser(prog="granite-certainty", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="start vLLM and the gateway")
    s.add_argument("--config", required=True, help="deployment YAML (e.g. configs/tiny.yaml)")
    s.add_argument("--host", help="gateway host (default from config: 127.0.0.1)")
    s.add_argument("--port", type=int, help="gateway port (default from config: 8000)")
    s.add_argument("--vllm-url", help="attach to a running vLLM at this URL instead of starting one")
    s.add_argument("--workers", type=int, help="gateway processes on one port (default from config: 1)")
    s.set_defaults(func=serve)

    b = sub.add_parser("build-tiny-model", help="build the embedded tiny Granite model and adapter")
    b.add_argument("dir")
    b.add_argument("--seed", type=int, default=0)
    b.set_defaults(func=build_tiny)

    from evaluation import add_eval_parser  # `eval` and `eval metrics`: evaluation/cli.py

    add_eval_parser(sub)
    from batch import add_score_parser  # `score`: batch/cli.py

    add_score_parser(sub)
    from .switch import add_switch_layout_parser  # `switch-layout`: server/switch/client.py

    add_switch_layout_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``granite-certainty`` command."""
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except DeploymentError as exc:
        print(f"granite-certainty: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
