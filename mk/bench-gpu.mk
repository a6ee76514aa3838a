# `make bench-gpu` (issue 11): the TensorRT plan of the demo model built with a bench profile
# (batch 1..32; `make engine`'s stops at 8), compared with ONNX Runtime through TensorRT's Python
# API (Polygraphy, as `make engine --compare`), served by Triton on the GPU and loaded at batch
# sizes 1..32 and by 1..64 transformer-like clients while `nvidia-smi dmon -s u` samples SM
# activity. Writes gpu-bench-output/report.json (siteveil.bench-gpu/1) and report.md; reads
# bench-output/report.json (`make bench`) for one transformer worker's images/s.
# Without a GPU (or without a tritonserver that has the tensorrt backend: run it inside the
# chart's nvcr.io/nvidia/tritonserver image) it exits non-zero with the reason, building nothing.
BENCH_GPU_OUTPUT ?= gpu-bench-output
BENCH_GPU_ARGS ?=

bench-gpu:
	$(PYTHON) -m export.gpu_check --preflight
	$(MAKE) setup model
	$(PY) -m bench.gpu --onnx $(DEMO_ONNX) --output $(BENCH_GPU_OUTPUT) --python $(PYTHON) \
		$(BENCH_GPU_ARGS)

.PHONY: bench-gpu
