"""The transformer's settings: KServe-compatible flags parsed once at start-up into one typed object."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

AnonymizationMode = Literal["blur", "pixelate", "fill"]
OutputFormat = Literal["same", "jpeg", "png", "webp"]
PredictorProtocol = Literal["v2", "grpc-v2"]


@dataclass(frozen=True, slots=True)
class Settings:
    model_name: str
    predictor_host: str
    model_version: str = ""
    predictor_protocol: PredictorProtocol = "v2"
    predictor_timeout: float = 30.0
    predictor_use_ssl: bool = False
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    workers: int = 1
    results_bucket: str | None = None
    anonymization_mode: AnonymizationMode = "blur"
    mask_threshold: float = 0.5
    mask_dilation_px: int | None = None
    fill_color: tuple[int, int, int] = (0, 0, 0)
    output_format: OutputFormat = "same"
    jpeg_quality: int = 90
    delete_original: bool = False
    shadow: bool = False
    max_image_bytes: int = 50 * 1024 * 1024
    max_image_pixels: int = 50_000_000
    contract_ttl_s: float = 30.0
    log_level: str = "INFO"
    # Several models per image: every Triton model named here runs on each image (its role comes
    # from its config); empty means `model_name` alone. The detectors' tiling looks for people
    # and faces down to these heights in frame pixels.
    models: tuple[str, ...] = ()
    min_person_px: int = 64
    min_face_px: int = 8
    person_box_margin: float = 0.1
    # CenterFace boxes span brow to chin; a head with its hair is about 1.5x that, so a face box
    # grows by half its longer side on every side (0.25 left hair showing on real CCTV frames)
    face_box_margin: float = 0.5
    max_detector_tiles: int = 400
    # with detectors running, keep only the segmenter's regions that a detection confirms
    confirm_segments: bool = True
    upload_buckets: tuple[str, ...] = ()  # the only buckets events may name; () = any but results

    def __post_init__(self) -> None:
        if not self.model_name:
            raise ValueError("--model_name is required")
        if not 0 < self.mask_threshold < 1:
            raise ValueError("--mask_threshold must be in (0, 1)")
        if self.mask_dilation_px is not None and self.mask_dilation_px < 0:
            raise ValueError("--mask_dilation_px must be >= 0")
        if self.workers < 1 or self.predictor_timeout <= 0:
            raise ValueError("--workers must be >= 1 and --predictor_timeout > 0")
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError("--jpeg_quality must be in 1..100")
        if self.max_image_bytes <= 0 or self.max_image_pixels <= 0:
            raise ValueError("--max_image_bytes and --max_image_pixels must be > 0")
        if len(set(self.served_model_names)) != len(self.served_model_names):
            raise ValueError("--models names a model twice")
        if self.model_name not in self.served_model_names:
            raise ValueError("--model_name must be one of --models")
        if min(self.min_person_px, self.min_face_px, self.max_detector_tiles) < 1:
            raise ValueError("--min_person_px, --min_face_px and --max_detector_tiles must be >= 1")
        if not (0 <= self.person_box_margin <= 1 and 0 <= self.face_box_margin <= 1):
            raise ValueError("--person_box_margin and --face_box_margin must be in [0, 1]")
        if self.results_bucket and self.results_bucket in self.upload_buckets:
            raise ValueError("--upload_buckets must not include the --results_bucket")
        if self.shadow and self.delete_original:
            raise ValueError("a --shadow transformer never deletes originals (--delete_original)")

    @property
    def served_model_names(self) -> tuple[str, ...]:
        """The Triton models run per image (`model_name`, KServe's, is always one of them)."""
        return self.models or (self.model_name,)


def kserve_parser() -> argparse.ArgumentParser:
    """The flags every KServe model server understands; extended with `parents=[...]`."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--model_name", required=True, help="Triton model to call")
    parser.add_argument("--predictor_host", required=True, help="host:port of the predictor")
    parser.add_argument("--predictor_protocol", choices=["v2", "grpc-v2"], default="v2")
    parser.add_argument("--predictor_use_ssl", action="store_true")
    parser.add_argument(
        "--predictor_request_timeout_seconds", dest="predictor_timeout", type=float, default=30.0
    )
    parser.add_argument("--http_port", type=int, default=8080)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--log_level", default="INFO")
    return parser


def _rgb(value: str) -> tuple[int, int, int]:
    parts = [int(p) for p in value.split(",")]
    if len(parts) != 3 or not all(0 <= p <= 255 for p in parts):
        raise argparse.ArgumentTypeError("expected R,G,B with values in 0..255")
    return (parts[0], parts[1], parts[2])


def comma_list(what: str) -> Callable[[str], tuple[str, ...]]:
    def parse(value: str) -> tuple[str, ...]:
        names = tuple(part.strip() for part in value.split(",") if part.strip())
        if not names:
            raise argparse.ArgumentTypeError(f"expected a comma list of {what}")
        return names

    return parse


def transformer_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m transformer",
        description="siteveil transformer: CloudEvent in, anonymized image out",
        parents=[kserve_parser()],
    )
    parser.add_argument("--model_version", default="", help="default: Triton's latest")
    parser.add_argument("--predictor_timeout", dest="predictor_timeout", type=float)
    parser.add_argument(
        "--http_host", default="127.0.0.1", help="address to bind; 0.0.0.0 inside a pod"
    )
    parser.add_argument("--results_bucket", default=None, help="default: the source bucket")
    parser.add_argument(
        "--anonymization_mode", choices=["blur", "pixelate", "fill"], default="blur"
    )
    parser.add_argument("--mask_threshold", type=float, default=0.5)
    parser.add_argument(
        "--mask_dilation_px",
        type=int,
        default=None,
        help="grow the mask by this many pixels (default: scaled to the image)",
    )
    parser.add_argument("--fill_color", type=_rgb, default=(0, 0, 0))
    parser.add_argument("--output_format", choices=["same", "jpeg", "png", "webp"], default="same")
    parser.add_argument("--jpeg_quality", type=int, default=90)
    parser.add_argument(
        "--delete_original",
        action="store_true",
        help="delete the upload once its results are written (GDPR)",
    )
    parser.add_argument(
        "--shadow",
        action="store_true",
        help="candidate model: write only under shadow/, never delete",
    )
    parser.add_argument("--max_image_bytes", type=int, default=50 * 1024 * 1024)
    parser.add_argument("--max_image_pixels", type=int, default=50_000_000)
    parser.add_argument(
        "--contract_ttl_s",
        type=float,
        default=30.0,
        help="how long a model config read from Triton is reused",
    )
    parser.add_argument(
        "--models",
        type=comma_list("model names"),
        default=None,
        help="Triton models run on every image, comma-separated; each one's role (segmenter, "
        "person_detector, face_detector) comes from its config (default: --model_name alone)",
    )
    parser.add_argument(
        "--min_person_px",
        type=int,
        default=64,
        help="the person detector's tiling finds people down to this height in frame pixels",
    )
    parser.add_argument(
        "--min_face_px",
        type=int,
        default=8,
        help="the face detector's tiling finds faces down to this height in frame pixels",
    )
    parser.add_argument("--person_box_margin", type=float, default=0.1)
    parser.add_argument("--face_box_margin", type=float, default=0.5)
    parser.add_argument(
        "--max_detector_tiles",
        type=int,
        default=400,
        help="tiles per detector per image; a larger frame is searched from a coarser level",
    )
    parser.add_argument(
        "--no_confirm_segments",
        dest="confirm_segments",
        action="store_false",
        default=None,
        help="with detectors running, keep every segmenter region, not only those a person or "
        "face detection touches (the segmenter sees people in site textures)",
    )
    parser.add_argument(
        "--upload_buckets",
        type=comma_list("bucket names"),
        default=(),
        help="comma list of the buckets uploads arrive in; events naming any other are refused "
        "(400). Default: any bucket but the results bucket",
    )
    return parser


def parse_settings(argv: Sequence[str] | None = None) -> Settings:
    parser = transformer_parser()
    args = parser.parse_args(argv)
    values = {k: v for k, v in vars(args).items() if v is not None}
    try:
        return Settings(**values)
    except ValueError as exc:
        parser.error(str(exc))
        raise  # unreachable: parser.error exits
