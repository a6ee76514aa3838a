# `helm_values` is the chart's `aws` block (charts/siteveil/values.yaml), ready for
# `terraform output -json helm_values > aws-values.json; helm install … -f aws-values.json`
# (`make terraform-helm-values`). One line per chart key: the table of what feeds what. Without
# `tenants` there is no Cognito client, so no JWT auth: the pool id is left empty (API keys only).
locals {
  helm_aws = {
    region                = var.region
    uploadsBucket         = module.storage.uploads_bucket_name
    uploadsPrefix         = module.storage.incoming_prefix
    resultsBucket         = module.storage.results_bucket_name
    apiStateBucket        = module.storage.api_state_bucket_name
    queueUrl              = module.events.queue_url
    queueArn              = module.events.queue_arn
    eventBusArn           = module.events.event_bus_arn
    modelStorageUri       = module.storage.models_storage_uri
    mskBootstrapServers   = module.streaming.bootstrap_brokers_sasl_iam
    inferenceRoleArn      = module.cluster.inference_role_arn
    shadowRoleArn         = module.cluster.shadow_role_arn
    eventSourceRoleArn    = module.cluster.event_source_role_arn
    apiRoleArn            = module.cluster.api_role_arn
    shadowReportRoleArn   = module.cluster.shadow_report_role_arn
    cognitoUserPoolId     = length(var.tenants) > 0 ? module.auth.user_pool_id : ""
    cognitoAppClientIds   = [for tenant in sort(var.tenants) : module.auth.client_ids[tenant]]
    cognitoResourceServer = module.auth.resource_server_identifier
    eksClusterName        = module.cluster.cluster_name
    karpenterNodeRoleName = module.cluster.karpenter_node_role_name
  }
}

# Keys without a value in this deployment (Karpenter off) are left out: the chart's default stays.
# Beside `aws`, the values that follow from this deployment's shape: the chart's GPU NodePool
# exactly when Terraform chose Karpenter for GPU capacity (gpu_capacity), and the Kafka topics'
# replication factor from the MSK broker count.
output "helm_values" {
  description = "Values for the siteveil Helm chart (`aws.*`, `karpenter.enabled`, the topics' replication factors)."
  value = {
    aws        = { for key, value in local.helm_aws : key => value if value != null }
    karpenter  = { enabled = var.gpu_capacity == "karpenter" }
    broker     = { class = var.kafka_broker_class, replicationFactor = local.kafka_replication }
    deadLetter = { replicationFactor = local.kafka_replication }
  }
}

output "namespace" {
  description = "The namespace the IRSA roles trust: `helm upgrade --install … --namespace <it>` (any other namespace leaves every role unusable)."
  value       = module.cluster.namespace
}

output "knative_kafka_service_accounts" {
  description = "The Knative Kafka service accounts (`namespace:name`) to annotate with `knative_kafka_role_arn`."
  value       = module.cluster.knative_kafka_service_accounts
}

output "knative_kafka_role_arn" {
  description = "Annotate the service accounts of `knative_kafka_service_accounts` with it (eks.amazonaws.com/role-arn)."
  value       = module.cluster.knative_kafka_role_arn
}

output "karpenter_controller_role_arn" {
  description = "IRSA role for the Karpenter Helm release."
  value       = module.cluster.karpenter_controller_role_arn
}

output "karpenter_interruption_queue_name" {
  description = "Karpenter Helm `settings.interruptionQueue`."
  value       = module.cluster.karpenter_interruption_queue_name
}

output "cluster_endpoint" {
  description = "Kubernetes API endpoint."
  value       = module.cluster.cluster_endpoint
}

output "models_storage_uri" {
  description = "`python -m export.publish --destination` for this deployment."
  value       = module.storage.models_storage_uri
}

output "auth" {
  description = "What the upload API needs to verify tokens."
  value = {
    issuer          = module.auth.issuer
    jwks_url        = module.auth.jwks_url
    client_ids      = module.auth.client_ids
    resource_server = module.auth.resource_server_identifier
    upload_scope    = module.auth.upload_scope
    token_endpoint  = module.auth.token_endpoint
  }
}
