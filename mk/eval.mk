# The privacy evaluation (evaluation/): scenes with ground truth through the real local stack,
# per person height: faces made unrecognisable, body covered; person-free frames masked; CPU per
# image per model set. Writes eval-output/report.json and eval-output/recall.png.
# EVAL_ARGS passes options, e.g. EVAL_ARGS="--frames 4 --person-free 2 --resolutions 1080p"
# or EVAL_ARGS="--model-sets person_segmenter person_segmenter,person_detector --require-goals".
EVAL_ARGS ?=

$(VENV)/.stamp-eval: $(VENV)/.stamp-base pyproject.toml
	$(PIP) install -e '.[export,stack,eval]'
	touch $@

eval-deps: $(VENV)/.stamp-eval
.PHONY: eval-deps eval

# OpenCV's sample data from Debian's opencv-doc package (evaluation/opencv_doc.py), fetched
# pinned and sha256-checked from the Debian archive: two photographs of whole people for the
# generated scenes, and the pedestrian video of the real CCTV scenes.
EVAL_CACHE := .cache/eval
EVAL_PHOTOS := $(EVAL_CACHE)/messi5.jpg $(EVAL_CACHE)/basketball1.png

$(EVAL_CACHE)/%: evaluation/opencv_doc.py | $(VENV)/.stamp-base
	$(PY) -m evaluation.opencv_doc $*
	touch $@

# DEMO_DEPS (the model, Triton's venv) is complete only after every fragment is read.
.SECONDEXPANSION:
eval: setup eval-deps $(EVAL_PHOTOS) $$(DEMO_DEPS)
	$(PY) -m evaluation $(EVAL_ARGS)

# Real CCTV scenes (evaluation/cctv.py): ground truth from the fixed camera of OpenCV's
# pedestrian video, not from our models. `make eval-cctv` runs the evaluation on its mosaics.

eval-cctv-video: $(EVAL_CACHE)/vtest.avi
eval-cctv: setup eval-deps $(EVAL_CACHE)/vtest.avi $$(DEMO_DEPS)
	$(PY) -m evaluation.cctv --output eval-output/cctv-scenes
	$(PY) -m evaluation --scenes eval-output/cctv-scenes/annotations.json --output eval-output/cctv $(EVAL_ARGS)
.PHONY: eval-cctv-video eval-cctv
TEST_DEPS += $(EVAL_CACHE)/vtest.avi $(EVAL_PHOTOS)
