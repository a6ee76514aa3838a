"""The KServe SDK transformer as a team writes it from the KServe docs and examples.

The shape of KServe's own image transformer sample (`docs/samples/v1beta1/transformer/
torchserve_image_transformer`, v2 protocol): synchronous `preprocess` / `postprocess` hooks,
PIL for the image, the tensor as a JSON list in an `InferRequest`, the SDK's default `predict`
(its `InferenceRESTClient`) to the predictor, default server settings. The work is done on the
whole frame: the mask is upsampled to full resolution, the whole frame is pixelated, then the
two are composited. A boto3 client is made per request, as a handler written top to bottom does.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

import boto3
import numpy as np
from kserve.errors import InvalidInput
from kserve.protocol.infer_type import InferInput, InferRequest, InferResponse
from PIL import Image, UnidentifiedImageError

from bench.kserve_reference import job
from bench.kserve_reference.server import ReferenceModel

_JOB = "x-bench-job"  # per-request state from preprocess to postprocess (never forwarded)
# One pixelation block size for the whole frame: 20 px at 1920 wide, 40 px at 3840.
_BLOCKS_ACROSS = 96


@dataclass(frozen=True, slots=True)
class _Job:
    upload: job.Upload
    image: Image.Image
    s3: Any


class ShippedTransformer(ReferenceModel):
    def preprocess(self, payload: Any, headers: dict[str, Any] | None = None) -> InferRequest:
        upload = job.upload_from_event(payload)
        s3 = boto3.client("s3")
        body = s3.get_object(Bucket=upload.bucket, Key=upload.key)["Body"].read()
        try:
            image = Image.open(io.BytesIO(body)).convert("RGB")
        except (UnidentifiedImageError, OSError) as exc:
            raise InvalidInput(f"{upload.key} is not a readable image: {exc}") from exc
        small = image.resize((job.MODEL_SIZE, job.MODEL_SIZE), Image.Resampling.BILINEAR)
        tensor = np.asarray(small, dtype=np.float32) / 255.0
        if headers is not None:
            headers[_JOB] = _Job(upload, image, s3)
        infer_input = InferInput(
            name=job.INPUT_NAME,
            shape=[1, job.MODEL_SIZE, job.MODEL_SIZE, 3],
            datatype="FP32",
            data=tensor.flatten().tolist(),
        )
        return InferRequest(model_name=self.name, infer_inputs=[infer_input])

    def postprocess(
        self,
        result: InferResponse,
        headers: dict[str, Any] | None = None,
        response_headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        if headers is None or _JOB not in headers:
            raise InvalidInput("postprocess without preprocess")
        work: _Job = headers.pop(_JOB)
        image, upload = work.image, work.upload
        output = result.get_output_by_name(job.OUTPUT_NAME)
        if output is None:
            raise InvalidInput(f"the predictor returned no {job.OUTPUT_NAME}")
        probability = output.as_numpy().reshape(job.MODEL_SIZE, job.MODEL_SIZE)

        # the mask at full resolution, then the whole frame pixelated and composited through it
        full = Image.fromarray(probability.astype(np.float32), mode="F").resize(
            image.size, Image.Resampling.BILINEAR
        )
        mask = np.asarray(full) > job.MASK_THRESHOLD
        mask_image = Image.fromarray(mask.astype(np.uint8) * 255, mode="L")
        width, height = image.size
        block = max(8, max(width, height) // _BLOCKS_ACROSS)
        pixelated = image.resize(
            (max(1, width // block), max(1, height // block)), Image.Resampling.BOX
        ).resize(image.size, Image.Resampling.NEAREST)
        anonymized = Image.composite(pixelated, image, mask_image)

        jpeg = io.BytesIO()
        anonymized.save(jpeg, "JPEG", quality=job.JPEG_QUALITY)
        png = io.BytesIO()
        mask_image.save(png, "PNG")
        record = job.record(
            upload,
            variant="shipped",
            width=width,
            height=height,
            persons=None,
            mask_fraction=float(mask.mean()),
        )
        bucket = self.results_bucket
        work.s3.put_object(
            Bucket=bucket, Key=upload.image_key, Body=jpeg.getvalue(), ContentType="image/jpeg"
        )
        work.s3.put_object(
            Bucket=bucket, Key=upload.mask_key, Body=png.getvalue(), ContentType="image/png"
        )
        work.s3.put_object(
            Bucket=bucket,
            Key=upload.record_key,
            Body=json.dumps(record).encode(),
            ContentType="application/json",
        )
        return job.outputs(upload)
