# checkov lives in its own virtualenv: its bc-python-hcl2 installs a module named `hcl2`
# that would shadow python-hcl2 in the main one (DESIGN.md §4).
CHECKOV_VENV := .venv-checkov
CHECKOV := $(CHECKOV_VENV)/bin/checkov
export SITEVEIL_CHECKOV := $(abspath $(CHECKOV))

$(CHECKOV_VENV)/.stamp:
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip -q install 'checkov>=3.2,<4'
	touch $@

checkov-venv: $(CHECKOV_VENV)/.stamp
.PHONY: checkov-venv
TEST_DEPS += checkov-venv
