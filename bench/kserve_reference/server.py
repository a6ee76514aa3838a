"""The KServe model server as the references run it: the SDK's own `ModelServer`, on 127.0.0.1.

Two things the SDK does not let a flag decide (kserve 0.21.0, read from its source):
- `protocol/rest/server.py` hands uvicorn `host="0.0.0.0"`; we set the uvicorn config's host to
  127.0.0.1 after `ModelServer.start` builds it and before it serves (`setup_event_loop` is the
  one hook in between), in both the one-process and the `--workers > 1` path;
- with `--workers > 1` (`RESTServerMultiProcess`, spawned children) the predictor config lives in
  a context variable set only in the parent (`kserve/context.py`), so `Model.predictor_config` is
  None in the workers and `predict` fails with "Could not find PredictorConfig": each model keeps
  its own copy, which travels to the children with the pickled model.
"""

from __future__ import annotations

import argparse
from typing import Any

from kserve import Model, ModelServer, context, model_server
from kserve.predictor_config import PredictorConfig

HOST = "127.0.0.1"


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


class LoopbackModelServer(ModelServer):
    """`kserve.ModelServer`, serving HTTP on 127.0.0.1 only and no gRPC."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(enable_grpc=False, **kwargs)

    def setup_event_loop(self) -> None:
        servers = [self._rest_server]
        if self._rest_multiprocess_server is not None:
            servers.append(self._rest_multiprocess_server._rest_server)
        for rest in servers:
            if rest is not None:
                rest.config.host = HOST
        super().setup_event_loop()
