# siteveil — one entry point for a newcomer: `make demo` and `make test`.
# Everything is installed into ignored folders of this checkout (.venv*, .tools/).
# Each component adds its own targets and set-up steps in mk/<component>.mk.

SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
MYPY_VERSION := 2.4.1
PIP := $(PY) -m pip --disable-pip-version-check -q
# The CPU build of PyTorch (a plain `torch` from PyPI is a multi-GB CUDA build).
TORCH_SPEC ?= torch==2.13.0
export CHECKPOINT_DISABLE := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

# Components append what `make test` / `make demo` need before they run.
TEST_DEPS :=
DEMO_DEPS :=

.PHONY: help setup setup-dev test demo up down logs lint clean
.DEFAULT_GOAL := help

help:
	@echo "make demo   - set up, start the local stack, anonymize sample images, write demo-output/"
	@echo "make test   - set up and run every test"
	@echo "make eval   - privacy evaluation through the local stack: eval-output/report.json + plot"
	@echo "make eval-cctv - the same on real CCTV frames (OpenCV vtest.avi from Debian opencv-doc): eval-output/cctv/"
	@echo "make bench [BENCH_ARGS=...] - transformer vs KServe SDK references and the JPEG codec floor: bench-output/"
	@echo "make bench-gpu - TensorRT plan, Triton on the GPU at batch 1-32, workers that keep it 90 % busy: gpu-bench-output/"
	@echo "make up / down / logs / status - the single-machine stack in the background"
	@echo "make shadow-demo - a candidate model in shadow mode beside the demo model; report in shadow-output/"
	@echo "make soak N=300 [SIZE=640x480 CONCURRENCY=8 DURATION=1800 BACKLOG=400] - uploads under faults, exact account"
	@echo "make model  - build the demo model (TFLite -> ONNX) into model_repository/"
	@echo "make engine - build a TensorRT plan in .venv-engine (GPU machine; see export/README.md)"
	@echo "make gpu-check - every model: plan, parity, throughput, Triton -> gpu-output/report.json"
	@echo "make chart-lint / chart-test - helm lint + render + validate charts/siteveil"
	@echo "make terraform-check - fmt, validate, terraform test and checkov for terraform/"
	@echo "make images - build the transformer and API container images with buildah (root; apt installs buildah)"
	@echo "make lint   - ruff (lint + format check) and mypy over every package"

$(VENV)/.stamp-base: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -U pip setuptools wheel
	$(PIP) install -e '.[export,stack]'
	touch $@

$(VENV)/.stamp-dev: $(VENV)/.stamp-base pyproject.toml
	$(PIP) install '$(TORCH_SPEC)'
	$(PIP) install -e '.[export,stack,torch,dev]'
	touch $@

setup: $(VENV)/.stamp-base
setup-dev: $(VENV)/.stamp-dev

include $(sort $(wildcard mk/*.mk))

test: setup-dev $(TEST_DEPS)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: setup-dev
	$(PY) -m pip install -q ruff==0.15.22 mypy==$(MYPY_VERSION)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy transformer export stack api siteveil_cli evaluation ops bench --exclude bench/kserve_reference

clean:
	rm -rf $(VENV) .venv-* .tools .cache .stack demo-output eval-output bench-output .stack-shadow shadow-output
