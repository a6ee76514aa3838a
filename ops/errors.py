"""The one error of the operator commands: printed as `error: …`, exit status 1."""

from __future__ import annotations


class OpsError(Exception):
    """Bad input or an unreachable dependency, said so the operator can act on it."""
