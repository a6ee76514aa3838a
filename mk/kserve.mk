# The KServe SDK reference transformers of `make bench` (bench/kserve_reference/) run from their
# own virtualenv with exact pins: kserve 0.21.0 needs cloudevents<2 and its own FastAPI/uvicorn,
# which must not move the project's .venv. Nothing of this repository is installed into it:
# `.venv-kserve/bin/python -m bench.kserve_reference` runs from the repository root.
KSERVE_VENV := .venv-kserve
KSERVE_REQUIREMENTS := bench/kserve_reference/requirements.txt

$(KSERVE_VENV)/.stamp: $(KSERVE_REQUIREMENTS)
	test -x $(KSERVE_VENV)/bin/python || $(PYTHON) -m venv $(KSERVE_VENV)
	$(KSERVE_VENV)/bin/python -m pip -q install -r $(KSERVE_REQUIREMENTS)
	$(KSERVE_VENV)/bin/python -m pip check
	touch $@

kserve-venv: $(KSERVE_VENV)/.stamp

.PHONY: kserve-venv
TEST_DEPS += kserve-venv
