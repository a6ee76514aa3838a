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

# DEMO_DEPS (the model, Triton's venv) is complete only after every fragment is read.
.SECONDEXPANSION:
eval: setup eval-deps $$(DEMO_DEPS)
	$(PY) -m evaluation $(EVAL_ARGS)
