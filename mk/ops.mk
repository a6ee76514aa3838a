# Model lifecycle (ops/): shadow report, canary, promote, rollback (`python -m ops --help`).
# make shadow-demo [CANDIDATE=identical|dim|blind|edge-fails]: the local stack with a candidate
# made from the demo model in shadow mode; report.md / report.html / verdict.json in
# shadow-output/, the verdict printed (exit 3 when it is reject).
.SECONDEXPANSION:

shadow-demo: setup $$(DEMO_DEPS)
	$(PY) -m stack.shadow_demo $(if $(CANDIDATE),--candidate $(CANDIDATE))

.PHONY: shadow-demo
