# S3 "Object Created" (uploads bucket, incoming/ prefix) → EventBridge rule → SQS queue, with a
# dead-letter queue for messages the consumer keeps failing and for events EventBridge could not
# deliver. The message body is the EventBridge envelope, one of the shapes the transformer accepts.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  # Queue ARNs are spelled out so each queue can carry its own policy inline (one API round trip
  # and one propagation wait fewer per queue than a separate aws_sqs_queue_policy).
  queue_names = {
    events       = "${var.name}-uploads"
    dead_letters = "${var.name}-uploads-dlq"
  }
  queue_arns = {
    for key, queue_name in local.queue_names :
    key => "arn:${data.aws_partition.current.partition}:sqs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:${queue_name}"
  }

  visibility_timeout_seconds = coalesce(var.visibility_timeout_seconds, min(3 * var.processing_timeout_seconds, 43200))

  event_pattern = {
    source        = ["aws.s3"]
    "detail-type" = ["Object Created"]
    detail = {
      bucket = { name = [var.uploads_bucket_name] }
      object = { key = [{ prefix = var.incoming_prefix }] }
    }
  }
}

resource "aws_cloudwatch_event_rule" "object_created" {
  name          = "${var.name}-object-created"
  description   = "siteveil: new uploads under s3://${var.uploads_bucket_name}/${var.incoming_prefix}"
  event_pattern = jsonencode(local.event_pattern)
  tags          = var.tags
}

resource "aws_cloudwatch_event_target" "queue" {
  rule      = aws_cloudwatch_event_rule.object_created.name
  target_id = "siteveil-uploads-queue"
  arn       = aws_sqs_queue.events.arn

  retry_policy {
    maximum_event_age_in_seconds = 86400
    maximum_retry_attempts       = 185
  }

  dead_letter_config {
    arn = aws_sqs_queue.dead_letters.arn
  }
}

resource "aws_sqs_queue" "dead_letters" {
  name                              = local.queue_names.dead_letters
  message_retention_seconds         = var.dlq_message_retention_seconds
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = var.kms_key_arn == null ? null : 300
  sqs_managed_sse_enabled           = var.kms_key_arn == null ? true : null
  policy                            = data.aws_iam_policy_document.queue["dead_letters"].json
  tags                              = var.tags
}

resource "aws_sqs_queue" "events" {
  name                              = local.queue_names.events
  visibility_timeout_seconds        = local.visibility_timeout_seconds
  message_retention_seconds         = var.message_retention_seconds
  receive_wait_time_seconds         = 20
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = var.kms_key_arn == null ? null : 300
  sqs_managed_sse_enabled           = var.kms_key_arn == null ? true : null
  policy                            = data.aws_iam_policy_document.queue["events"].json
  tags                              = var.tags

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dead_letters.arn
    maxReceiveCount     = var.max_receive_count
  })
}

# Only our queue may redrive into the dead-letter queue.
resource "aws_sqs_queue_redrive_allow_policy" "dead_letters" {
  count     = var.restrict_dead_letter_sources ? 1 : 0
  queue_url = aws_sqs_queue.dead_letters.id

  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.events.arn]
  })
}

# Only this rule may send, only over TLS.
data "aws_iam_policy_document" "queue" {
  for_each = local.queue_arns

  statement {
    sid       = "OnlyTheUploadsRuleSends"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [each.value]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.object_created.arn]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [each.value]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "dead_letters" {
  count = length(var.dlq_alarm_actions) > 0 ? 1 : 0

  alarm_name          = "${var.name}-uploads-dlq-not-empty"
  alarm_description   = "siteveil: an upload event could not be processed and waits in ${aws_sqs_queue.dead_letters.name}."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dead_letters.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.dlq_alarm_actions
  ok_actions          = var.dlq_alarm_actions
  tags                = var.tags
}
