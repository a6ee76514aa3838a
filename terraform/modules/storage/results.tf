# Anonymized images, masks and result.json. Derived data: tiered to cheaper classes as it ages,
# shadow-model output expires on its own.

resource "aws_s3_bucket" "results" {
  #checkov:skip=CKV_AWS_21:Results are derived and reproducible from the model; versions would only retain superseded masks.
  #checkov:skip=CKV_AWS_144:Cross-region replication is a deployment decision (cost, data residency); not on by default.
  #checkov:skip=CKV2_AWS_62:Nothing consumes result events from S3; the transformer's reply CloudEvent announces results.
  bucket        = local.bucket_names.results
  force_destroy = var.force_destroy
  tags          = merge(var.tags, { "siteveil.io/data" = "results" })
}

resource "aws_s3_bucket_public_access_block" "results" {
  bucket                  = aws_s3_bucket.results.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "results" {
  bucket = aws_s3_bucket.results.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "results" {
  bucket = aws_s3_bucket.results.id

  rule {
    bucket_key_enabled = true

    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.this.arn
    }
  }
}

resource "aws_s3_bucket_policy" "results" {
  count  = var.enforce_tls ? 1 : 0
  bucket = aws_s3_bucket.results.id
  policy = data.aws_iam_policy_document.tls_only["results"].json

  depends_on = [aws_s3_bucket_public_access_block.results]
}

resource "aws_s3_bucket_logging" "results" {
  bucket        = aws_s3_bucket.results.id
  target_bucket = aws_s3_bucket.access_logs.id
  target_prefix = "results/"

  # Log delivery is allowed by the log bucket's policy; S3 checks it when logging is switched on.
  depends_on = [aws_s3_bucket_policy.access_logs]
}

resource "aws_s3_bucket_lifecycle_configuration" "results" {
  bucket = aws_s3_bucket.results.id

  rule {
    id     = "tier-results"
    status = "Enabled"

    filter {
      prefix = local.results_prefix
    }

    transition {
      days          = var.results_transition_ia_days
      storage_class = "STANDARD_IA"
    }

    transition {
      days          = var.results_transition_glacier_ir_days
      storage_class = "GLACIER_IR"
    }

    dynamic "expiration" {
      for_each = var.results_expiration_days > 0 ? [var.results_expiration_days] : []
      content {
        days = expiration.value
      }
    }
  }

  rule {
    id     = "expire-shadow-results"
    status = "Enabled"

    filter {
      prefix = local.shadow_prefix
    }

    expiration {
      days = var.shadow_expiration_days
    }
  }

  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"

    filter {
      prefix = ""
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

# A browser may fetch anonymized images through presigned GET URLs.
resource "aws_s3_bucket_cors_configuration" "results" {
  count  = length(var.cors_allowed_origins) > 0 ? 1 : 0
  bucket = aws_s3_bucket.results.id

  cors_rule {
    allowed_methods = ["GET", "HEAD"]
    allowed_origins = var.cors_allowed_origins
    allowed_headers = ["range"]
    expose_headers  = ["ETag", "Content-Length", "Content-Type"]
    max_age_seconds = var.cors_max_age_seconds
  }
}
