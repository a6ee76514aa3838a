output "cluster_arn" {
  description = "ARN of the MSK cluster."
  value       = aws_msk_cluster.this.arn
}

output "cluster_name" {
  description = "Name of the MSK cluster."
  value       = aws_msk_cluster.this.cluster_name
}

output "bootstrap_brokers_sasl_iam" {
  description = "Bootstrap servers for SASL/IAM over TLS (port 9098), comma-separated: the Kafka broker's `bootstrap.servers`."
  value       = aws_msk_cluster.this.bootstrap_brokers_sasl_iam
}

output "security_group_id" {
  description = "Security group of the brokers."
  value       = aws_security_group.brokers.id
}

output "kms_key_arn" {
  description = "Key encrypting the brokers' storage and logs."
  value       = aws_kms_key.this.arn
}

output "client_policy_json" {
  description = "IAM policy (JSON) a Kafka client of this cluster needs; the cluster module attaches it to Knative's Kafka role."
  value       = data.aws_iam_policy_document.client.json
}
