"""`python -m bench.kserve_reference --variant shipped|tuned …`: one reference transformer."""

from __future__ import annotations

from bench.kserve_reference.server import LoopbackModelServer, parse_args, predictor_config


def main() -> None:
    args = parse_args()
    config = predictor_config(args)
    if args.variant == "shipped":
        from bench.kserve_reference.shipped import ShippedTransformer as Transformer
    else:
        from bench.kserve_reference.tuned import TunedTransformer as Transformer
    model = Transformer(args.model_name, config, args.results_bucket)
    model.load()
    server = LoopbackModelServer(
        http_port=args.http_port,
        workers=args.workers,
        predictor_config=config,
        # the as-shipped default logs a latency line per request; the tuned one does not
        enable_latency_logging=args.variant == "shipped" and args.enable_latency_logging,
    )
    server.start([model])


if __name__ == "__main__":  # spawned workers import this module as __mp_main__: do not start
    main()
