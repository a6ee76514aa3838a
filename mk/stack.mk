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

