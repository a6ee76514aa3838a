"""The v2 (Open Inference Protocol) client to Triton: HTTP with binary tensors, or gRPC."""

from __future__ import annotations

import contextlib
import logging
import queue
import socket
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from tritonclient.utils import InferenceServerException

from transformer.config import Settings
from transformer.errors import ModelContractError, PredictorUnavailable
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
    def served_models(self) -> tuple[ServedModel, ...]: ...
    def infer(self, tensor: np.ndarray, model: ServedModel) -> np.ndarray: ...
    def infer_many(
        self, requests: Sequence[tuple[ServedModel, Iterable[np.ndarray]]]
    ) -> list[np.ndarray]: ...


log = logging.getLogger("siteveil.transformer")
_CONCURRENCY = 4  # requests in flight per worker: one per model, more for chunked tile batches


class TritonPredictor:
    """One client per worker process (created lazily, after Gunicorn forks)."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self._settings = settings
        self._clock = clock
        self._client: Any = None
        self._grpc = settings.predictor_protocol == "grpc-v2"
        self._served: tuple[ServedModel, ...] | None = None
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
            concurrency=_CONCURRENCY,
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

    def _pinned_version(self, name: str) -> str:
        s = self._settings
        return s.model_version if name == s.model_name else ""

    def is_ready(self) -> bool:
        """Ready only when every model run per image is served and says how to feed it.

        A missing detector is a privacy hole, not a degraded mode.
        """
        names = self._settings.served_model_names
        try:
            ready = all(self._model_ready(name) for name in names)
            return ready and bool(self.served_models())
        except ModelContractError as exc:
            log.error("not ready: %s", exc.reason)
            return False
        except PredictorUnavailable:
            return False

    def _model_ready(self, name: str) -> bool:
        version = self._pinned_version(name)
        return bool(self._call("readiness check", lambda: self._tc.is_model_ready(name, version)))

    def served_model(self) -> ServedModel:
        """The model KServe names (`--model_name`); its version keys shadow results."""
        return next(m for m in self.served_models() if m.name == self._settings.model_name)

    def served_models(self) -> tuple[ServedModel, ...]:
        """Every model run per image, with version and contract, re-read every `contract_ttl_s`.

        Pinning the versions per request keeps one request's configs and inferences consistent
        while a new version rolls out. Two models of one role are refused: which one a result
        came from would be ambiguous.
        """
        now = self._clock()
        if self._served is None or now - self._served_read_at > self._settings.contract_ttl_s:
            served = tuple(self._read_served(name) for name in self._settings.served_model_names)
            roles = [m.contract.role for m in served]
            for role in sorted(set(roles)):
                if roles.count(role) > 1:
                    names = [m.name for m in served if m.contract.role == role]
                    raise ModelContractError(f"models {names} all declare the role {role!r}")
            self._served = served
            self._served_read_at = now
        return self._served

    def _read_served(self, name: str) -> ServedModel:
        kwargs = {"as_json": True} if self._grpc else {}
        version = self._pinned_version(name) or self._latest_version(name)
        config = self._call(
            "config read", lambda: self._tc.get_model_config(name, version, **kwargs)
        )
        try:
            contract = contract_from_config(config)
        except ModelContractError as exc:
            raise ModelContractError(f"model {name!r} version {version}: {exc.reason}") from exc
        return ServedModel(name, version, contract)

    def _latest_version(self, name: str) -> str:
        kwargs = {"as_json": True} if self._grpc else {}
        metadata = self._call("metadata read", lambda: self._tc.get_model_metadata(name, **kwargs))
        versions = [str(v) for v in metadata.get("versions", [])]
        if not versions:
            raise PredictorUnavailable(f"model {name!r} has no ready version")
        return max(versions, key=lambda v: (len(v), v))

    def infer(self, tensor: np.ndarray, model: ServedModel) -> np.ndarray:
        return self.infer_many([(model, [tensor])])[0]

    def infer_many(
        self, requests: Sequence[tuple[ServedModel, Iterable[np.ndarray]]]
    ) -> list[np.ndarray]:
        """Run every model on its batches, all models at once, at most `_CONCURRENCY` requests
        in flight (a batch is made only when there is room for it: memory stays bounded).

        A batch larger than the model's `max_batch_size` goes as several requests. Any failure
        fails the whole image (503, retried): no union is ever built from part of the models.
        """
        outputs: list[list[np.ndarray]] = [[] for _ in requests]
        chunks = _round_robin(requests)
        self._call("inference", lambda: self._run_all(chunks, outputs))
        return [parts[0] if len(parts) == 1 else np.concatenate(parts) for parts in outputs]

    def _run_all(
        self,
        chunks: Iterator[tuple[int, ServedModel, np.ndarray]],
        outputs: list[list[np.ndarray]],
    ) -> None:
        """Send chunks keeping `_CONCURRENCY` in flight; collect each model's answers in order."""
        pending: deque[tuple[int, ServedModel, Any]] = deque()
        for index, model, tensor in chunks:
            pending.append((index, model, self._send(model, tensor)))
            if len(pending) >= _CONCURRENCY:
                self._collect(pending.popleft(), outputs)
        while pending:
            self._collect(pending.popleft(), outputs)

    def _collect(self, sent: tuple[int, ServedModel, Any], outputs: list[list[np.ndarray]]) -> None:
        index, model, handle = sent
        result = self._result(handle)
        output = result.as_numpy(model.contract.output_name)
        if output is None:
            raise PredictorUnavailable(
                f"model {model.name!r} returned no tensor {model.contract.output_name!r}"
            )
        outputs[index].append(output)

    def _send(self, model: ServedModel, tensor: np.ndarray) -> Any:
        contract = model.contract
        if self._grpc:
            import tritonclient.grpc as grpcclient

            grpc_input = grpcclient.InferInput(
                contract.input_name, list(tensor.shape), contract.triton_dtype
            )
            grpc_input.set_data_from_numpy(tensor)
            answer: queue.Queue[tuple[Any, Any]] = queue.Queue(maxsize=1)
            self._tc.async_infer(
                model.name,
                [grpc_input],
                partial(_deliver, answer),
                model_version=model.version,
                outputs=[grpcclient.InferRequestedOutput(contract.output_name)],
                client_timeout=self._settings.predictor_timeout,
            )
            return answer
        import tritonclient.http as httpclient

        http_input = httpclient.InferInput(
            contract.input_name, list(tensor.shape), contract.triton_dtype
        )
        http_input.set_data_from_numpy(tensor, binary_data=True)
        output = httpclient.InferRequestedOutput(contract.output_name, binary_data=True)
        return self._tc.async_infer(
            model.name, [http_input], model_version=model.version, outputs=[output]
        )

    def _result(self, handle: Any) -> Any:
        if not self._grpc:
            return handle.get_result()
        try:
            result, error = handle.get(timeout=self._settings.predictor_timeout + 5)
        except queue.Empty as exc:
            raise TimeoutError("no answer from the predictor") from exc
        if error is not None:
            raise error
        return result

    def close(self) -> None:
        self._reset()


def _deliver(answer: queue.Queue[tuple[Any, Any]], result: Any, error: Any) -> None:
    answer.put((result, error))


def _round_robin(
    requests: Sequence[tuple[ServedModel, Iterable[np.ndarray]]],
) -> Iterator[tuple[int, ServedModel, np.ndarray]]:
    """(request index, model, tensor) taking turns between the models, so each one is busy;
    a batch over the model's `max_batch_size` is split."""
    streams = [_labelled(index, model, batches) for index, (model, batches) in enumerate(requests)]
    while streams:
        for stream in list(streams):
            item = next(stream, None)
            if item is None:
                streams.remove(stream)
            else:
                yield item


def _labelled(
    index: int, model: ServedModel, batches: Iterable[np.ndarray]
) -> Iterator[tuple[int, ServedModel, np.ndarray]]:
    for part in _split(batches, model.contract.max_batch_size):
        yield index, model, part


def _split(batches: Iterable[np.ndarray], limit: int) -> Iterator[np.ndarray]:
    for batch in batches:
        step = limit or batch.shape[0]
        for start in range(0, batch.shape[0], step):
            yield batch[start : start + step]


def _describe(exc: BaseException) -> str:
    if isinstance(exc, InferenceServerException):
        return exc.message() or str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
