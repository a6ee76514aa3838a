# Everything siteveil needs in one AWS account and region: storage, the S3 → EventBridge → SQS
# chain, MSK for the Kafka broker, EKS with GPU capacity and IRSA roles, and Cognito for the
# upload API. `make terraform-helm-values` turns its outputs into the chart's `aws.*` values.

provider "aws" {
  region = var.region

  default_tags {
    tags = merge({ "app.kubernetes.io/part-of" = "siteveil" }, var.tags)
  }
}

locals {
  # One MSK broker per subnet (two or three zones). Kafka refuses a topic whose replication
  # factor exceeds the broker count, so the chart's topics take min(3, brokers) (helm_values).
  msk_broker_count  = length(var.private_subnet_ids) == 2 ? 2 : 3
  kafka_replication = min(3, local.msk_broker_count)
}

module "storage" {
  source = "../../modules/storage"

  name                 = var.name
  cors_allowed_origins = var.cors_allowed_origins
}

module "events" {
  source = "../../modules/events"

  name                = var.name
  uploads_bucket_name = module.storage.uploads_bucket_name
  incoming_prefix     = module.storage.incoming_prefix
  kms_key_arn         = module.storage.kms_key_arn
}

module "cluster" {
  source = "../../modules/cluster"

  name               = var.name
  vpc_id             = var.vpc_id
  subnet_ids         = var.private_subnet_ids
  cluster_admin_arns = var.cluster_admin_arns
  gpu_capacity       = var.gpu_capacity
  kafka_broker_class = var.kafka_broker_class

  storage = {
    uploads_bucket_arn    = module.storage.uploads_bucket_arn
    results_bucket_arn    = module.storage.results_bucket_arn
    models_bucket_arn     = module.storage.models_bucket_arn
    api_state_bucket_arn  = module.storage.api_state_bucket_arn
    kms_key_arn           = module.storage.kms_key_arn
    incoming_prefix       = module.storage.incoming_prefix
    results_prefix        = module.storage.results_prefix
    shadow_prefix         = module.storage.shadow_prefix
    shadow_reports_prefix = module.storage.shadow_reports_prefix
    models_prefix         = module.storage.models_prefix
    api_state_prefix      = module.storage.api_state_prefix
  }

  queue = {
    arn         = module.events.queue_arn
    kms_key_arn = module.storage.kms_key_arn
  }

  msk = {
    client_policy_json = module.streaming.client_policy_json
  }
}

module "streaming" {
  source = "../../modules/streaming"

  name                      = var.name
  vpc_id                    = var.vpc_id
  subnet_ids                = var.private_subnet_ids
  broker_count              = local.msk_broker_count
  client_security_group_ids = [module.cluster.cluster_security_group_id]
}

module "auth" {
  source = "../../modules/auth"

  name          = var.name
  domain_prefix = var.cognito_domain_prefix
  tenants       = var.tenants
}
