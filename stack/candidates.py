"""Shadow candidates made from the demo model, for `make shadow-demo` and the tests.

- `identical`: the same ONNX, the same config: a candidate that must be promoted;
- `dim`: the same ONNX, but its config scales the input 25× too small (a wrong preprocessing
  constant in a new export): the model sees a near-black frame and misses most people;
- `blind`: a model that finds no one (its output is all zeros);
- `edge-fails`: the same model, except that Triton answers an error for every image whose top
  edge is white (a candidate that fails on some images).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Literal

Kind = Literal["identical", "dim", "blind", "edge-fails"]
KINDS: tuple[Kind, ...] = ("identical", "dim", "blind", "edge-fails")
DIM_FACTOR = 25.0

_BLIND = '''

_Base = TritonPythonModel


class TritonPythonModel(_Base):  # type: ignore[no-redef]
    """Candidate `blind` (stack/candidates.py): finds no one."""

    def execute(self, requests):
        responses = []
        for request in requests:
            size = pb_utils.get_input_tensor_by_name(request, self.input_names[0]).as_numpy().shape[0]
            tensors = []
            for name, dtype in self.outputs:
                shape = [size] + [int(d) for d in self.output_dims[name]]
                tensors.append(pb_utils.Tensor(name, np.zeros(shape, dtype)))
            responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
        return responses

    def initialize(self, args):
        super().initialize(args)
        config = json.loads(args["model_config"])
        self.output_dims = {o["name"]: o["dims"] for o in config["output"]}
'''

_EDGE_FAILS = '''

_Base = TritonPythonModel


class TritonPythonModel(_Base):  # type: ignore[no-redef]
    """Candidate `edge-fails` (stack/candidates.py): an error for images with a white top edge."""

    def execute(self, requests):
        responses = []
        for request in requests:
            batch = pb_utils.get_input_tensor_by_name(request, self.input_names[0]).as_numpy()
            top = batch[:, 0, :, :] if batch.shape[-1] == 3 else batch[:, :, 0, :]
            if float(top.min()) >= 0.95 * float(batch.max()) > 0:
                error = pb_utils.TritonError("candidate edge-fails: white top edge")
                responses.append(pb_utils.InferenceResponse(output_tensors=[], error=error))
            else:
                responses.extend(super().execute([request]))
        return responses
'''


def _set_parameter(text: str, key: str, value: str) -> str:
    pattern = re.compile(r'(key: "' + re.escape(key) + r'"\s*value \{\s*string_value: ")([^"]*)(")')
    if not pattern.search(text):
        raise ValueError(f"config has no parameter {key}")
    return pattern.sub(lambda m: m[1] + value + m[3], text)


def make_candidate(source: Path, target_root: Path, name: str, kind: Kind) -> Path:
    """Copy the model directory `source` (its newest version) to `target_root/name`, as `kind`."""
    if kind not in KINDS:
        raise ValueError(f"unknown candidate kind {kind!r}; one of {', '.join(KINDS)}")
    versions = sorted(
        (p for p in source.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name)
    )
    if not versions:
        raise ValueError(f"{source} has no version directory")
    target = target_root / name
    if target.exists():
        shutil.rmtree(target)
    (target / "configs").mkdir(parents=True)
    version_dir = target / "1"
    version_dir.mkdir()
    for item in versions[-1].iterdir():
        if item.is_file():  # model.onnx may be a link into a shared build: copy the bytes
            shutil.copyfile(item, version_dir / item.name)
    configs = [source / "config.pbtxt", *sorted((source / "configs").glob("*.pbtxt"))]
    for config in configs:
        text = config.read_text().replace(f'name: "{source.name}"', f'name: "{name}"')
        if kind == "dim":
            scale = re.search(r'key: "siteveil.scale"\s*value \{\s*string_value: "([^"]*)"', text)
            if scale:
                text = _set_parameter(text, "siteveil.scale", repr(float(scale[1]) / DIM_FACTOR))
        relative = config.relative_to(source)
        (target / relative).write_text(text)
    if kind in ("blind", "edge-fails"):
        model_py = version_dir / "model.py"
        model_py.write_text(model_py.read_text() + (_BLIND if kind == "blind" else _EDGE_FAILS))
        (version_dir / "manifest.json").unlink(missing_ok=True)  # no longer the exported files
    return target


def main(argv: list[str] | None = None) -> int:
    """`python -m stack.candidates dim` → a candidate directory for `make up SHADOW=…`."""
    import argparse

    from stack.config import REPO_ROOT

    parser = argparse.ArgumentParser(prog="python -m stack.candidates", description=__doc__)
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("--name", default=None, help="default: person_segmenter_<kind>")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / ".stack-candidates")
    parser.add_argument(
        "--source", type=Path, default=REPO_ROOT / "model_repository" / "person_segmenter"
    )
    args = parser.parse_args(argv)
    name = args.name or f"{args.source.name}_{args.kind.replace('-', '_')}"
    print(make_candidate(args.source, args.out, name, args.kind))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
