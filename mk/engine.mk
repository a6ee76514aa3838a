# TensorRT plans (GPU machines). TensorRT, Polygraphy and ONNX Runtime live in their own
# virtualenv, .venv-engine, built from the pinned export/engine-requirements.txt (TensorRT 10.5 /
# CUDA 12.6, the release inside the chart's Triton image; export/serving_image.py) with
# `pip install --no-deps` + `pip check`: installing them into .venv broke it (onnxruntime-gpu over
# the CPU onnxruntime). Nothing here runs in `make test`.
ENGINE_VENV := .venv-engine
ENGINE_DIR := .cache/export/engine

# Re-created by export/engine_env.py whenever export/engine-requirements.txt changes.
engine-venv:
	$(PYTHON) -m export.engine_env --venv $(ENGINE_VENV) --python $(PYTHON)

# The demo model's plan: GPU + driver check first (before a ~2.5 GB download), then the build
# with a batch profile 1..8 (opt 4), FP16 and a timing cache, Polygraphy's comparison with ONNX
# Runtime, and model.onnx + model.plan + model.plan.json as a NEW version of person_segmenter.
# `python -m export publish` refuses a plan whose TensorRT/CUDA is not the serving image's.
engine: $(DEMO_ONNX)
	$(PYTHON) -m export.gpu_check --preflight
	$(MAKE) engine-venv
	$(ENGINE_VENV)/bin/python -m export.engine_cli --onnx $(DEMO_ONNX) \
		--output $(ENGINE_DIR)/model.plan --timing-cache $(ENGINE_DIR)/timing.cache --compare
	$(PY) -m export add-version --repository model_repository --name person_segmenter \
		--onnx $(DEMO_ONNX) --plan $(ENGINE_DIR)/model.plan --note "make engine"

# Every model of model_repository/: build, compare, time, serve with Triton where one with the
# tensorrt backend exists; writes gpu-output/report.json in under 10 minutes. Without a GPU it
# prints its steps and exits non-zero with the reason (before building anything).
gpu-check:
	$(PYTHON) -m export.gpu_check --preflight
	$(MAKE) setup model
	$(PY) -m export.gpu_check --repository model_repository --output gpu-output --python $(PYTHON)

.PHONY: engine-venv engine gpu-check
