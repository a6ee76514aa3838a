"""`python -m transformer --model_name=… --predictor_host=…`: start the transformer under Gunicorn."""

from __future__ import annotations

import os
import sys
import tempfile

# glibc reads these at process start; Gunicorn workers inherit them from the master. Without
# them every large request buffer is a fresh mmap, and its page faults cost ~11 ms per image.
MALLOC_ENV = {
    "MALLOC_MMAP_THRESHOLD_": str(32 * 1024 * 1024),
    "MALLOC_TRIM_THRESHOLD_": str(256 * 1024 * 1024),
}


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    from transformer.config import parse_settings

    settings = parse_settings(argv)  # fail fast on bad flags, before any re-exec
    missing = {k: v for k, v in MALLOC_ENV.items() if k not in os.environ}
    if missing:
        os.execve(
            sys.executable, [sys.executable, "-m", "transformer", *argv], {**os.environ, **missing}
        )
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="siteveil-metrics-")

    from transformer import logs
    from transformer.server import serve

    logs.configure(settings.log_level)
    refused = check_models(settings)
    if refused:
        print(f"siteveil transformer: refusing to start: {refused}", file=sys.stderr)
        sys.exit(2)
    serve(settings)


def check_models(settings: object) -> str | None:
    """Read every model's contract once before serving: a wrong one is a deployment error.

    Triton may not be up yet (it starts beside us in the pod): then the check is left to the
    readiness probe, which stays false, with the reason logged, until every model is usable.
    The check runs in a child process: tritonclient's gevent hub must not exist in the Gunicorn
    master, whose forked workers would inherit it broken (their first Triton call never returns).
    """
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(1) as pool:
        return pool.apply(_check_models_here, (settings,))


def _check_models_here(settings: object) -> str | None:
    from transformer.errors import ModelContractError, PredictorUnavailable
    from transformer.predictor import TritonPredictor

    predictor = TritonPredictor(settings)  # type: ignore[arg-type]
    try:
        predictor.served_models()
    except ModelContractError as exc:
        return exc.reason
    except PredictorUnavailable:
        return None
    finally:
        predictor.close()
    return None


if __name__ == "__main__":
    main()
