"""The KServe model server as the references run it: the SDK's own `ModelServer`, on 127.0.0.1.

Two things the SDK does not let a flag decide (kserve 0.21.0, read from its source):
- `protocol/rest/server.py` hands uvicorn `host="0.0.0.0"`; we set the uvicorn config's host to
  127.0.0.1 after `ModelServer.start` builds it and before it serves (`setup_event_loop` is the
  one hook in between), in both the one-process and the `--workers > 1` path;
- with `--workers > 1` (`RESTServerMultiProcess`, spawned children) the predictor config lives in
  a context variable set only in the parent (`kserve/context.py`), so `Model.predictor_config` is
  None in the workers and `predict` fails with "Could not find PredictorConfig": each model keeps
  its own copy, which travels to the children with the pickled model.

And one thing its supervisor gets wrong on a busy machine: `RESTServerMultiProcess` (kserve's
copy of uvicorn's multiprocess supervisor) pings every worker 0.5 s after spawning it and kills
one that has not answered within a fixed 5 s, but a spawned worker only starts answering once it
has imported everything and unpickled the model and server. On a loaded 2-core machine two
workers starting together take longer than that, so one was killed and respawned in every run
("Child process [N] died"). `StartupGraceSupervisor` waits up to `STARTUP_TIMEOUT_S` for a new
worker's first answer before it applies KServe's 5 s liveness ping (uvicorn's own supervisor
has `--timeout-worker-healthcheck` for this; kserve 0.21.0's copy has no such setting).
"""

from __future__ import annotations

import argparse
import time
from socket import socket
from typing import Any

from kserve import Model, ModelServer, context, model_server
from kserve.logging import logger
from kserve.predictor_config import PredictorConfig
from kserve.protocol.rest.multiprocess.server import RESTServerMultiProcess, RESTServerProcess

HOST = "127.0.0.1"
# How long a new worker may take to answer its first ping: import + unpickle + uvicorn start-up
# took 3.5-8 s per worker with two starting at once on the loaded 2-core bench machine.
STARTUP_TIMEOUT_S = 60.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """KServe's own flags (`--http_port`, `--workers`, `--predictor_host`, `--model_name`, …)
    plus ours, one parser as KServe's examples build it (`parents=[model_server.parser]`)."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.kserve_reference", parents=[model_server.parser]
    )
    parser.add_argument("--variant", choices=("shipped", "tuned"), required=True)
    parser.add_argument("--results_bucket", required=True)
    args = parser.parse_args(argv)
    if not args.predictor_host:
        parser.error("--predictor_host is required (Triton's HTTP host:port)")
    if args.workers < 1:
        parser.error("--workers must be >= 1")
    return args


def predictor_config(args: argparse.Namespace) -> PredictorConfig:
    """Triton speaks the v2 (Open Inference) REST protocol."""
    return PredictorConfig(
        predictor_host=args.predictor_host,
        predictor_protocol="v2",
        predictor_request_timeout_seconds=args.predictor_request_timeout_seconds,
    )


class ReferenceModel(Model):
    """A `kserve.Model` that carries its predictor config into spawned workers."""

    def __init__(self, name: str, config: PredictorConfig, results_bucket: str) -> None:
        super().__init__(name)
        self._own_predictor_config = config
        self.results_bucket = results_bucket

    @property
    def predictor_config(self) -> PredictorConfig | None:
        return context.get_predictor_config() or self._own_predictor_config


class StartupGraceSupervisor(RESTServerMultiProcess):
    """KServe's worker supervisor with a start-up grace: a worker that has not answered a ping
    yet gets one ping and `STARTUP_TIMEOUT_S` to answer it, checked without blocking at each of
    the supervisor's 0.5 s ticks; once it has answered (or the grace is over) KServe's own
    check applies (`is_alive`: a ping answered within 5 s, else kill and respawn). Otherwise
    `keep_subprocess_alive` as in kserve 0.21.0, except that a respawned worker keeps the log
    configuration (kserve's respawn drops `log_config_file`)."""

    # set per instance on first use: ModelServer.start builds the plain RESTServerMultiProcess
    _first_ping: dict[RESTServerProcess, float]
    _answered: set[RESTServerProcess]

    def _starting(self, process: RESTServerProcess) -> bool:
        """True while `process` has not answered its first ping and is within its grace."""
        if not hasattr(self, "_answered"):
            self._first_ping, self._answered = {}, set()
        if process in self._answered or not process._process.is_alive():
            return False  # an exited worker goes to KServe's check, which respawns it
        sent = self._first_ping.get(process)
        if sent is None:
            process._parent_conn.send(b"ping")
            self._first_ping[process] = time.monotonic()
            return True
        if process._parent_conn.poll(0):
            process._parent_conn.recv()
            self._answered.add(process)
            logger.info(
                "Child process [%s] answered after %.1f s", process.pid, time.monotonic() - sent
            )
            return False
        if time.monotonic() - sent < STARTUP_TIMEOUT_S:
            return True
        logger.warning(
            "Child process [%s] did not answer within %.0f s of start",
            process.pid,
            STARTUP_TIMEOUT_S,
        )
        self._answered.add(process)  # from now on KServe's 5 s check decides
        return False

    async def keep_subprocess_alive(self, sockets: list[socket]) -> None:
        if self.should_exit.is_set():
            return
        for idx, process in enumerate(self._processes):
            if self._starting(process) or process.is_alive():
                continue
            process.kill()  # hung or gone: as kserve does
            await process.wait_for_termination()
            if self.should_exit.is_set():
                return
            logger.info("Child process [%s] died", process.pid)
            self._first_ping.pop(process, None)
            self._answered.discard(process)
            process = RESTServerProcess(
                sockets, self._rest_server.run, log_config_file=self.log_config_file
            )
            process.start()
            self._processes[idx] = process
            logger.info("Started new child process [%s]", process.pid)


class LoopbackModelServer(ModelServer):
    """`kserve.ModelServer`, serving HTTP on 127.0.0.1 only and no gRPC, its workers supervised
    with a start-up grace (`StartupGraceSupervisor`)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(enable_grpc=False, **kwargs)

    def setup_event_loop(self) -> None:
        servers = [self._rest_server]
        if self._rest_multiprocess_server is not None:
            # built by ModelServer.start; its `start()` coroutine has not run yet
            self._rest_multiprocess_server.__class__ = StartupGraceSupervisor
            servers.append(self._rest_multiprocess_server._rest_server)
        for rest in servers:
            if rest is not None:
                rest.config.host = HOST
        super().setup_event_loop()
