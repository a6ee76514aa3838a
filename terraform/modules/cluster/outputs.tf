output "cluster_name" {
  description = "EKS cluster name (Karpenter discovery tag value)."
  value       = aws_eks_cluster.this.name
}

output "cluster_arn" {
  description = "ARN of the EKS cluster."
  value       = aws_eks_cluster.this.arn
}

output "cluster_endpoint" {
  description = "Kubernetes API endpoint."
  value       = aws_eks_cluster.this.endpoint
}

output "cluster_certificate_authority_data" {
  description = "Base64 CA bundle of the API endpoint."
  value       = aws_eks_cluster.this.certificate_authority[0].data
}

output "cluster_security_group_id" {
  description = "Security group EKS created for the control plane and managed nodes (give it to the streaming module as a client)."
  value       = aws_eks_cluster.this.vpc_config[0].cluster_security_group_id
}

output "oidc_provider_arn" {
  description = "IAM OIDC provider of the cluster (IRSA)."
  value       = aws_iam_openid_connect_provider.this.arn
}

output "inference_role_arn" {
  description = "IRSA role of the production InferenceService pod (chart `aws.inferenceRoleArn`)."
  value       = aws_iam_role.irsa["inference"].arn
}

output "shadow_role_arn" {
  description = "IRSA role of the shadow InferenceService pod (chart `aws.shadowRoleArn`)."
  value       = aws_iam_role.irsa["shadow"].arn
}

output "event_source_role_arn" {
  description = "IRSA role of the event source (chart `aws.eventSourceRoleArn`)."
  value       = aws_iam_role.irsa["event_source"].arn
}

output "shadow_report_role_arn" {
  description = "IRSA role of the shadow report CronJob (chart `aws.shadowReportRoleArn`)."
  value       = aws_iam_role.irsa["shadow_report"].arn
}

output "api_role_arn" {
  description = "IRSA role of the upload API (chart `aws.apiRoleArn`)."
  value       = aws_iam_role.irsa["api"].arn
}

output "knative_kafka_service_accounts" {
  description = "Service accounts (`namespace:name`) the Knative Kafka role trusts: annotate each with `knative_kafka_role_arn`."
  value       = try(local.roles["knative_kafka"].subjects, [])
}

output "namespace" {
  description = "Namespace the release's IRSA roles trust: install the chart there (`helm --namespace`)."
  value       = var.namespace
}

output "knative_kafka_role_arn" {
  description = "IRSA role to annotate on Knative's Kafka controller and data-plane service accounts; null without MSK."
  value       = try(aws_iam_role.irsa["knative_kafka"].arn, null)
}

output "karpenter_controller_role_arn" {
  description = "IRSA role of the Karpenter controller (Helm `serviceAccount.annotations`); null without Karpenter."
  value       = try(aws_iam_role.irsa["karpenter"].arn, null)
}

output "karpenter_node_role_name" {
  description = "Role the chart's EC2NodeClass names (chart `aws.karpenterNodeRoleName`); null without Karpenter."
  value       = try(aws_iam_role.karpenter_node[0].name, null)
}

output "karpenter_interruption_queue_name" {
  description = "Karpenter's interruption queue (Helm `settings.interruptionQueue`); null without Karpenter."
  value       = try(aws_sqs_queue.karpenter_interruption[0].name, null)
}

output "gpu_capacity" {
  description = "How GPU nodes are provided (karpenter or managed-node-group)."
  value       = var.gpu_capacity
}
