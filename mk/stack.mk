# The single-machine stack (stack/): moto (S3 + EventBridge + SQS), the relay, Triton, the
# transformer under Gunicorn. Triton lives in its own virtualenv (nvidia-pytriton pins numpy<2).
TRITON_VENV := .venv-triton
STACK_STATE ?= .stack

$(TRITON_VENV)/.stamp: stack/requirements-triton.txt
	test -x $(TRITON_VENV)/bin/python || $(PYTHON) -m venv $(TRITON_VENV)
	$(TRITON_VENV)/bin/python -m pip -q install -r stack/requirements-triton.txt
	touch $@

triton-venv: $(TRITON_VENV)/.stamp

.PHONY: triton-venv
TEST_DEPS += triton-venv
DEMO_DEPS += triton-venv

# DEMO_DEPS is complete only after every fragment is read: expand it when the rule runs.
.SECONDEXPANSION:

up: setup $$(DEMO_DEPS)
	@$(PY) -m stack --state-dir $(STACK_STATE) up $(if $(SHADOW),$(addprefix --shadow ,$(SHADOW)))

down:
	@if [ -x $(PY) ]; then $(PY) -m stack --state-dir $(STACK_STATE) down; else echo "nothing was running (no $(PY))"; fi

logs:
	@$(PY) -m stack --state-dir $(STACK_STATE) logs $(if $(FOLLOW),--follow)

status:
	@$(PY) -m stack --state-dir $(STACK_STATE) status || true

.PHONY: status

# make demo IMAGES="a.jpg b.png" runs the same on your own files; KEEP_OPEN=1 keeps the stack up
# afterwards for the results viewer (its URL is printed) until Ctrl-C.
demo: setup $$(DEMO_DEPS)
	$(PY) -m stack.demo $(if $(IMAGES),--images $(IMAGES)) $(if $(KEEP_OPEN),--keep-open)

# make soak N=300 SIZE=640x480 CONCURRENCY=8 DURATION=1800 BACKLOG=400: uploads through the real local
# path under a fault schedule, then an exact account (soak-output/report.json). Its own stack
# (.stack-soak/), so it runs beside `make up`.
N ?= 300
SIZE ?= 640x480
CONCURRENCY ?= 8
DURATION ?= 1800
BACKLOG ?= 400
soak: setup $$(DEMO_DEPS)
	$(PY) -m stack.soak -n $(N) --size $(SIZE) --concurrency $(CONCURRENCY) --max-duration $(DURATION) --max-backlog $(BACKLOG)

.PHONY: soak
