"""The v2 (Open Inference Protocol) client to Triton: HTTP with binary tensors, or gRPC."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from tritonclient.utils import InferenceServerException

from transformer.config import Settings
from transformer.errors import PredictorUnavailable
from transformer.model_contract import ModelContract, contract_from_config

# What a dead, slow or confused predictor raises through tritonclient (gevent/geventhttpclient
# for HTTP, grpc for gRPC): all of them mean "retry me later", never "bad input".
_TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    InferenceServerException,
    OSError,
    socket.timeout,
    TimeoutError,
    ConnectionError,
)
try:  # gevent's Timeout is a BaseException, not an Exception
    from gevent import Timeout as _GeventTimeout

    _TRANSPORT_ERRORS += (_GeventTimeout,)
except ImportError:  # pragma: no cover - gevent comes with tritonclient[http]
    pass


@dataclass(frozen=True, slots=True)
class ServedModel:
    """The model version Triton serves now, and how to feed it."""

    name: str
    version: str
    contract: ModelContract


class Predictor(Protocol):
    def is_ready(self) -> bool: ...
    def served_model(self) -> ServedModel: ...
    def infer(self, tensor: np.ndarray, model: ServedModel) -> np.ndarray: ...


class TritonPredictor:
    """One client per worker process (created lazily, after Gunicorn forks)."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self._settings = settings
        self._clock = clock
        self._client: Any = None
        self._grpc = settings.predictor_protocol == "grpc-v2"
        self._served: ServedModel | None = None
        self._served_read_at = 0.0

    @property
    def _tc(self) -> Any:
        if self._client is None:
            self._client = self._connect()
        return self._client

    def _connect(self) -> Any:
        s = self._settings
        if self._grpc:
            import tritonclient.grpc as grpcclient

            return grpcclient.InferenceServerClient(s.predictor_host, ssl=s.predictor_use_ssl)
        import tritonclient.http as httpclient

        return httpclient.InferenceServerClient(
            s.predictor_host,
            connection_timeout=s.predictor_timeout,
            network_timeout=s.predictor_timeout,
            ssl=s.predictor_use_ssl,
        )

    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except _TRANSPORT_ERRORS as exc:
            self._reset()
            raise PredictorUnavailable(f"predictor {what} failed: {_describe(exc)}") from exc

    def _reset(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(
                Exception
            ):  # a broken client may fail to close; dropped anyway
                client.close()

    def is_ready(self) -> bool:
        s = self._settings
        try:
            return bool(
                self._call(
                    "readiness check",
                    lambda: self._tc.is_model_ready(s.model_name, s.model_version),
                )
            )
        except PredictorUnavailable:
            return False

    def served_model(self) -> ServedModel:
        """The served version and its contract, re-read from Triton every `contract_ttl_s` s.

        Pinning the version per request keeps one request's config and inference consistent
        while a new version rolls out.
        """
        now = self._clock()
        if self._served is None or now - self._served_read_at > self._settings.contract_ttl_s:
            s = self._settings
            kwargs = {"as_json": True} if self._grpc else {}
            version = s.model_version or self._latest_version()
            config = self._call(
                "config read",
                lambda: self._tc.get_model_config(s.model_name, version, **kwargs),
            )
            self._served = ServedModel(s.model_name, version, contract_from_config(config))
            self._served_read_at = now
        return self._served

    def _latest_version(self) -> str:
        kwargs = {"as_json": True} if self._grpc else {}
        metadata = self._call(
            "metadata read",
            lambda: self._tc.get_model_metadata(self._settings.model_name, **kwargs),
        )
        versions = [str(v) for v in metadata.get("versions", [])]
        if not versions:
            raise PredictorUnavailable(f"model {self._settings.model_name!r} has no ready version")
        return max(versions, key=lambda v: (len(v), v))

    def infer(self, tensor: np.ndarray, model: ServedModel) -> np.ndarray:
        contract = model.contract
        if self._grpc:
            import tritonclient.grpc as client_lib

            request_input = client_lib.InferInput(
                contract.input_name, list(tensor.shape), contract.triton_dtype
            )
            request_input.set_data_from_numpy(tensor)
            outputs = [client_lib.InferRequestedOutput(contract.output_name)]
            extra: dict[str, Any] = {"client_timeout": self._settings.predictor_timeout}
        else:
            import tritonclient.http as client_lib  # type: ignore[no-redef]

            request_input = client_lib.InferInput(
                contract.input_name, list(tensor.shape), contract.triton_dtype
            )
            request_input.set_data_from_numpy(tensor, binary_data=True)
            outputs = [client_lib.InferRequestedOutput(contract.output_name, binary_data=True)]
            extra = {}
        result = self._call(
            "inference",
            lambda: self._tc.infer(
                model.name, [request_input], model_version=model.version, outputs=outputs, **extra
            ),
        )
        output = result.as_numpy(contract.output_name)
        if output is None:
            raise PredictorUnavailable(f"predictor returned no tensor {contract.output_name!r}")
        return output

    def close(self) -> None:
        self._reset()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, InferenceServerException):
        return exc.message() or str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
