output "uploads_bucket_name" {
  description = "Bucket to PUT uploads into."
  value       = module.storage.uploads_bucket_name
}

output "results_bucket_name" {
  description = "Bucket the transformer writes results to."
  value       = module.storage.results_bucket_name
}

output "models_bucket_name" {
  description = "Bucket holding the model repository."
  value       = module.storage.models_bucket_name
}

output "queue_url" {
  description = "Queue the relay consumes."
  value       = module.events.queue_url
}

output "dead_letter_queue_url" {
  description = "Dead-letter queue."
  value       = module.events.dead_letter_queue_url
}

output "incoming_prefix" {
  description = "Prefix whose uploads produce events."
  value       = module.storage.incoming_prefix
}

# The chart's `aws.*` values this example knows (storage and events); the rest keep the chart's
# defaults.
locals {
  helm_aws = {
    region          = var.region
    uploadsBucket   = module.storage.uploads_bucket_name
    uploadsPrefix   = module.storage.incoming_prefix
    resultsBucket   = module.storage.results_bucket_name
    apiStateBucket  = module.storage.api_state_bucket_name
    queueUrl        = module.events.queue_url
    queueArn        = module.events.queue_arn
    eventBusArn     = module.events.event_bus_arn
    modelStorageUri = module.storage.models_storage_uri
  }
}

output "helm_values" {
  description = "Values for the siteveil Helm chart (the `aws.*` keys storage and events provide)."
  value       = { aws = local.helm_aws }
}
