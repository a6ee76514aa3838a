# Originals: personal data. Encrypted with the CMK, never public, deleted by the transformer
# after processing and by lifecycle after `uploads_expiration_days` whatever happened.
# No versioning: a deleted original must really be gone (GDPR), not kept as a noncurrent version.

resource "aws_s3_bucket" "uploads" {
  #checkov:skip=CKV_AWS_21:Versioning would keep deleted originals as noncurrent versions; GDPR deletion must be final.
  #checkov:skip=CKV_AWS_144:Originals live for hours; a replica in a second region would widen the personal-data footprint.
  bucket        = local.bucket_names.uploads
  force_destroy = var.force_destroy
  tags          = merge(var.tags, { "siteveil.io/data" = "uploads" })
}

resource "aws_s3_bucket_public_access_block" "uploads" {
  bucket                  = aws_s3_bucket.uploads.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "uploads" {
  bucket = aws_s3_bucket.uploads.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "uploads" {
  bucket = aws_s3_bucket.uploads.id

  rule {
    bucket_key_enabled = true

    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.this.arn
    }
  }
}

resource "aws_s3_bucket_policy" "uploads" {
  count  = var.enforce_tls ? 1 : 0
  bucket = aws_s3_bucket.uploads.id
  policy = data.aws_iam_policy_document.tls_only["uploads"].json

  depends_on = [aws_s3_bucket_public_access_block.uploads]
}

resource "aws_s3_bucket_logging" "uploads" {
  bucket        = aws_s3_bucket.uploads.id
  target_bucket = aws_s3_bucket.access_logs.id
  target_prefix = "uploads/"

  # Log delivery is allowed by the log bucket's policy; S3 checks it when logging is switched on.
  depends_on = [aws_s3_bucket_policy.access_logs]
}

resource "aws_s3_bucket_lifecycle_configuration" "uploads" {
  bucket = aws_s3_bucket.uploads.id

  rule {
    id     = "expire-originals"
    status = "Enabled"

    filter {
      prefix = local.incoming_prefix
    }

    expiration {
      days = var.uploads_expiration_days
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

# Browsers PUT (or POST a form) straight to presigned URLs: allow exactly that, from the listed
# origins only.
resource "aws_s3_bucket_cors_configuration" "uploads" {
  count  = length(var.cors_allowed_origins) > 0 ? 1 : 0
  bucket = aws_s3_bucket.uploads.id

  cors_rule {
    allowed_methods = ["PUT", "POST"]
    allowed_origins = var.cors_allowed_origins
    allowed_headers = ["content-type", "content-md5", "x-amz-*"]
    expose_headers  = ["ETag"]
    max_age_seconds = var.cors_max_age_seconds
  }
}

# "Object Created" events go to EventBridge; the events module routes incoming/ to SQS.
resource "aws_s3_bucket_notification" "uploads" {
  bucket      = aws_s3_bucket.uploads.id
  eventbridge = true
}
