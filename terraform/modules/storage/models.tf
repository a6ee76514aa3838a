# The Triton model repository (storageUri). Versioned: a bad upload can be rolled back, and a
# replaced model file stays recoverable for `models_noncurrent_version_expiration_days`.

resource "aws_s3_bucket" "models" {
  #checkov:skip=CKV_AWS_144:Models are rebuilt by export/ and published per region; replication is not needed.
  #checkov:skip=CKV2_AWS_62:Model rollouts are explicit (a new storageUri / version), not triggered by S3 events.
  bucket        = local.bucket_names.models
  force_destroy = var.force_destroy
  tags          = merge(var.tags, { "siteveil.io/data" = "models" })
}

resource "aws_s3_bucket_versioning" "models" {
  bucket = aws_s3_bucket.models.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_public_access_block" "models" {
  bucket                  = aws_s3_bucket.models.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "models" {
  bucket = aws_s3_bucket.models.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "models" {
  bucket = aws_s3_bucket.models.id

  rule {
    bucket_key_enabled = true

    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.this.arn
    }
  }
}

resource "aws_s3_bucket_policy" "models" {
  count  = var.enforce_tls ? 1 : 0
  bucket = aws_s3_bucket.models.id
  policy = data.aws_iam_policy_document.tls_only["models"].json

  depends_on = [aws_s3_bucket_public_access_block.models]
}

resource "aws_s3_bucket_logging" "models" {
  bucket        = aws_s3_bucket.models.id
  target_bucket = aws_s3_bucket.access_logs.id
  target_prefix = "models/"

  # Log delivery is allowed by the log bucket's policy; S3 checks it when logging is switched on.
  depends_on = [aws_s3_bucket_policy.access_logs]
}

resource "aws_s3_bucket_lifecycle_configuration" "models" {
  bucket = aws_s3_bucket.models.id

  rule {
    id     = "expire-replaced-model-files"
    status = "Enabled"

    filter {
      prefix = ""
    }

    noncurrent_version_expiration {
      noncurrent_days = var.models_noncurrent_version_expiration_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.models]
}
