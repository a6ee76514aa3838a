# Key layout (DESIGN.md §3): the upload API writes incoming/<tenant>/<yyyy>/<mm>/<dd>/<id>.<ext>
# to the uploads bucket; the transformer writes results/<tenant>/<id>/… (and shadow/…) to the
# results bucket; Triton's storage initializer reads the models bucket.
locals {
  incoming_prefix = "incoming/"
  results_prefix  = "results/"
  shadow_prefix   = "shadow/"
  # the shadow report's output (the chart's shadowReport.outputPrefix)
  shadow_reports_prefix = "shadow-reports/"

  bucket_names = {
    uploads     = "${var.name}-uploads"
    results     = "${var.name}-results"
    models      = "${var.name}-models"
    access_logs = "${var.name}-access-logs"
  }

  data_buckets = {
    uploads = aws_s3_bucket.uploads.arn
    results = aws_s3_bucket.results.arn
    models  = aws_s3_bucket.models.arn
  }
}

# TLS-only (1.2 or newer) on every bucket: refuse plain HTTP whoever asks.
data "aws_iam_policy_document" "tls_only" {
  for_each = local.data_buckets

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [each.value, "${each.value}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  statement {
    sid       = "DenyOutdatedTLS"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [each.value, "${each.value}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "NumericLessThan"
      variable = "s3:TlsVersion"
      values   = ["1.2"]
    }
  }
}
