# The performance bench (bench/): moto S3 + the real Triton (CPU), our transformer under Gunicorn
# beside the two KServe SDK reference transformers (bench/kserve_reference/, their pinned
# .venv-kserve from mk/kserve.mk), and the JPEG codec floor, on the same distinct 1080p/4K frames.
# Writes bench-output/report.json (schema siteveil.bench/1), report.md and report.png.
# BENCH_ARGS passes options, e.g. BENCH_ARGS="--only siteveil --images-1080p 20 --images-4k 4 --rounds 1".
BENCH_ARGS ?=

$(VENV)/.stamp-bench: $(VENV)/.stamp-base pyproject.toml
	$(PIP) install -e '.[export,stack,bench]'
	touch $@

bench-deps: $(VENV)/.stamp-bench
.PHONY: bench-deps bench

# DEMO_DEPS (the model, Triton's venv) is complete only after every fragment is read.
.SECONDEXPANSION:
bench: setup bench-deps kserve-venv $$(DEMO_DEPS)
	$(PY) -m bench $(BENCH_ARGS)
