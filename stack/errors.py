"""The local stack's few domain errors."""

from __future__ import annotations


class StackError(RuntimeError):
    """A part of the local stack could not be started, reached or stopped."""


class AlreadyRunning(StackError):
    """`up` found a stack from an earlier `up` still running in the same state directory."""


class TritonUnavailable(StackError):
    """The Triton virtualenv (`make triton-venv`) or its tritonserver binary is missing."""
