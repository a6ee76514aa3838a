output "queue_url" {
  description = "URL of the queue the event source (or the local relay) consumes."
  value       = aws_sqs_queue.events.id
}

output "queue_arn" {
  description = "ARN of the upload-events queue."
  value       = aws_sqs_queue.events.arn
}

output "queue_name" {
  description = "Name of the upload-events queue."
  value       = aws_sqs_queue.events.name
}

output "dead_letter_queue_url" {
  description = "URL of the dead-letter queue."
  value       = aws_sqs_queue.dead_letters.id
}

output "dead_letter_queue_arn" {
  description = "ARN of the dead-letter queue."
  value       = aws_sqs_queue.dead_letters.arn
}

output "rule_arn" {
  description = "ARN of the EventBridge rule; the only sender the queue policy admits."
  value       = aws_cloudwatch_event_rule.object_created.arn
}

output "event_pattern" {
  description = "The rule's event pattern (JSON)."
  value       = aws_cloudwatch_event_rule.object_created.event_pattern
}

output "visibility_timeout_seconds" {
  description = "The queue's visibility timeout as applied."
  value       = aws_sqs_queue.events.visibility_timeout_seconds
}

output "max_receive_count" {
  description = "Receives before a message is dead-lettered."
  value       = var.max_receive_count
}

output "event_bus_arn" {
  description = "The event bus S3 delivers to (the account's default bus)."
  value       = "arn:${data.aws_partition.current.partition}:events:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:event-bus/default"
}
