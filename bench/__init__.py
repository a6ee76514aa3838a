"""`make bench`: the transformer side by side with the KServe SDK references and the codec floor.

Kept free of imports: `.venv-kserve` runs `python -m bench.kserve_reference`, which imports this
package's `__init__` with none of the harness's dependencies installed.
"""
