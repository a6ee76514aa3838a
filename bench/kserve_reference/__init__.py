"""KServe SDK reference transformers for `make bench`: the same job as ours, written with `kserve`.

Runs only from `.venv-kserve` (mk/kserve.mk) as `python -m bench.kserve_reference`; imports
nothing from the rest of this repository, so the references owe nothing to our transformer.
"""
