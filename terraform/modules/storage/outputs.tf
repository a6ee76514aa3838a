output "kms_key_arn" {
  description = "ARN of the customer managed key that encrypts the buckets (and may encrypt the event queue)."
  value       = aws_kms_key.this.arn
}

output "uploads_bucket_name" {
  description = "Bucket the upload API presigns PUTs into and the transformer reads originals from."
  value       = aws_s3_bucket.uploads.bucket
}

output "uploads_bucket_arn" {
  description = "ARN of the uploads bucket."
  value       = aws_s3_bucket.uploads.arn
}

output "results_bucket_name" {
  description = "Bucket the transformer writes results to (`--results_bucket`)."
  value       = aws_s3_bucket.results.bucket
}

output "results_bucket_arn" {
  description = "ARN of the results bucket."
  value       = aws_s3_bucket.results.arn
}

output "models_bucket_name" {
  description = "Versioned bucket holding the Triton model repository."
  value       = aws_s3_bucket.models.bucket
}

output "models_bucket_arn" {
  description = "ARN of the models bucket."
  value       = aws_s3_bucket.models.arn
}

output "access_logs_bucket_name" {
  description = "Bucket receiving the S3 server access logs of the three data buckets."
  value       = aws_s3_bucket.access_logs.bucket
}

output "incoming_prefix" {
  description = "Key prefix of uploads (DESIGN.md §3); the event rule filters on it."
  value       = local.incoming_prefix
}

output "results_prefix" {
  description = "Key prefix of results in the results bucket."
  value       = local.results_prefix
}

output "shadow_prefix" {
  description = "Key prefix of shadow-model results in the results bucket."
  value       = local.shadow_prefix
}

output "shadow_reports_prefix" {
  description = "Key prefix of the shadow comparison reports in the results bucket (`python -m ops shadow-report --s3`)."
  value       = local.shadow_reports_prefix
}

output "models_prefix" {
  description = "Key prefix of the model repositories in the models bucket."
  value       = var.models_prefix
}

output "models_storage_uri" {
  description = "Base URI of the model repositories (chart `aws.modelStorageUri`; `export/publish.py --destination`)."
  value       = "s3://${aws_s3_bucket.models.bucket}/${trimsuffix(var.models_prefix, "/")}"
}

output "api_state_bucket_name" {
  description = "Bucket of the upload API's state (the uploads bucket; chart `aws.apiStateBucket`)."
  value       = aws_s3_bucket.uploads.bucket
}

output "api_state_bucket_arn" {
  description = "ARN of the bucket of the upload API's state."
  value       = aws_s3_bucket.uploads.arn
}

output "api_state_prefix" {
  description = "Key prefix of the upload API's state."
  value       = var.api_state_prefix
}
