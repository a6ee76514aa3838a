# The storage and events modules against a local AWS emulator (moto in server mode): the same
# S3 → EventBridge → SQS chain as production, on 127.0.0.1. Credentials are the emulator's dummies.

provider "aws" {
  region     = var.region
  access_key = "test"
  secret_key = "test"

  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
  skip_region_validation      = true
  s3_use_path_style           = true

  endpoints {
    cloudwatch = var.aws_endpoint_url
    events     = var.aws_endpoint_url
    iam        = var.aws_endpoint_url
    kms        = var.aws_endpoint_url
    s3         = var.aws_endpoint_url
    sqs        = var.aws_endpoint_url
    sts        = var.aws_endpoint_url
  }
}

module "storage" {
  source = "../../modules/storage"

  name                 = var.name
  cors_allowed_origins = ["http://localhost:8000"]
  force_destroy        = true

  # The emulator speaks plain HTTP, and moto evaluates a conditional Deny as a Deny whatever the
  # condition says: a TLS-only policy would refuse every request.
  enforce_tls = false
}

module "events" {
  source = "../../modules/events"

  name                = var.name
  uploads_bucket_name = module.storage.uploads_bucket_name
  incoming_prefix     = module.storage.incoming_prefix
  kms_key_arn         = module.storage.kms_key_arn

  # moto accepts but drops RedriveAllowPolicy, so the provider would wait for it forever.
  restrict_dead_letter_sources = false
}
