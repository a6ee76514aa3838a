# One customer managed key for the three data buckets, their access logs and (when the events
# module is given it) the event queue: one place to audit and to revoke.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
}

data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_109:A key policy's Resource is always "*" (the key itself); administration stays with the account's IAM policies.
  #checkov:skip=CKV_AWS_111:A key policy's Resource is always "*" (the key itself); write access stays with the account's IAM policies.
  #checkov:skip=CKV_AWS_356:A key policy's Resource is always "*" (the key itself).
  statement {
    sid       = "AccountAdministersTheKeyThroughIAM"
    effect    = "Allow"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid       = "S3ServerAccessLogsDelivery"
    effect    = "Allow"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  # EventBridge encrypts what its rules send to an SSE-KMS queue with this key. The Amazon SQS
  # Developer Guide, "Key management" > "Configure AWS KMS permissions with confused deputy
  # protection" (docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/
  # sqs-key-management.html), lists CloudWatch Events (EventBridge) among the services that
  # support `aws:SourceArn` with SSE-enabled queues, and `aws:SourceAccount` where the ARN is not
  # known. (For encrypted SNS topics EventBridge does not support them: that is SNS's page.) The
  # events module names its rule "<name>-object-created", so only this deployment's rules match.
  statement {
    sid       = "EventBridgeSendsToTheEncryptedQueue"
    effect    = "Allow"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:events:${local.region}:${local.account_id}:rule/${var.name}-*"]
    }
  }
}

resource "aws_kms_key" "this" {
  description             = "siteveil ${var.name}: uploads, results, models, access logs, event queue"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days
  policy                  = data.aws_iam_policy_document.kms.json
  tags                    = var.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}-storage"
  target_key_id = aws_kms_key.this.key_id
}
