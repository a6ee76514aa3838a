"""The few domain errors of the model build; the CLI turns each into one clear line and exit 2."""

from __future__ import annotations


class ExportError(Exception):
    """Base class: anything that stops a model build for a reason the user can fix."""


class UnsupportedOperator(ExportError):
    """The source model uses an operator (or option) this converter does not translate."""

    def __init__(self, op: str, detail: str = "") -> None:
        self.op = op
        super().__init__(f"unsupported operator {op}" + (f": {detail}" if detail else ""))


class ChecksumMismatch(ExportError):
    """A downloaded or extracted file does not have the pinned sha256."""


class MissingFile(ExportError):
    """An input file (model, ONNX, plan, config) does not exist."""


class NotSegmentationOutput(ExportError):
    """The model's output cannot be read as probability / logits / labels of an image."""


class ParityFailed(ExportError):
    """The exported model disagrees with its source beyond the configured thresholds."""


class VersionExists(ExportError):
    """Refusing to overwrite a model version (locally or in S3)."""
