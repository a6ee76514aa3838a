# MSK for the Knative Kafka broker: IAM authentication only (no unauthenticated or plaintext
# listener), TLS between clients and brokers and between brokers, a customer managed key at rest.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name

  # The broker's topics are created by Knative (auto creation stays off).
  server_properties = {
    "auto.create.topics.enable"      = "false"
    "default.replication.factor"     = tostring(min(3, var.broker_count))
    "min.insync.replicas"            = tostring(min(2, var.broker_count - 1))
    "unclean.leader.election.enable" = "false"
    "num.partitions"                 = "12"
  }
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
    sid       = "CloudWatchLogsEncryptsBrokerLogs"
    effect    = "Allow"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/msk/${var.name}"]
    }
  }
}

resource "aws_kms_key" "this" {
  description             = "siteveil MSK ${var.name}: data at rest and broker logs"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days
  policy                  = data.aws_iam_policy_document.kms.json
  tags                    = var.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}-msk"
  target_key_id = aws_kms_key.this.key_id
}

resource "aws_cloudwatch_log_group" "brokers" {
  name              = "/aws/msk/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
  tags              = var.tags
}

resource "aws_security_group" "brokers" {
  name        = "${var.name}-msk-brokers"
  description = "MSK brokers of ${var.name}: SASL/IAM over TLS from the cluster only"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

# count, not for_each: the group ids are often unknown until the EKS cluster exists.
resource "aws_vpc_security_group_ingress_rule" "iam_clients" {
  count = length(var.client_security_group_ids)

  security_group_id            = aws_security_group.brokers.id
  description                  = "Kafka over TLS with IAM authentication"
  referenced_security_group_id = var.client_security_group_ids[count.index]
  ip_protocol                  = "tcp"
  from_port                    = 9098
  to_port                      = 9098
  tags                         = var.tags
}

# Prometheus (in the cluster, behind the same security groups as the Kafka clients) scrapes MSK's
# open-monitoring exporters: JMX exporter on 11001, node exporter on 11002 (Amazon MSK developer
# guide, "Open monitoring with Prometheus"). Without these rules the exporters are on but unreachable.
resource "aws_vpc_security_group_ingress_rule" "prometheus" {
  count = length(var.client_security_group_ids)

  security_group_id            = aws_security_group.brokers.id
  description                  = "Prometheus open monitoring: JMX exporter 11001, node exporter 11002"
  referenced_security_group_id = var.client_security_group_ids[count.index]
  ip_protocol                  = "tcp"
  from_port                    = 11001
  to_port                      = 11002
  tags                         = var.tags
}

resource "aws_msk_configuration" "this" {
  name              = "${var.name}-broker"
  kafka_versions    = [var.kafka_version]
  server_properties = join("\n", [for k, v in local.server_properties : "${k}=${v}"])
}

resource "aws_msk_cluster" "this" {
  cluster_name           = var.name
  kafka_version          = var.kafka_version
  number_of_broker_nodes = var.broker_count
  enhanced_monitoring    = "PER_TOPIC_PER_BROKER"
  tags                   = var.tags

  broker_node_group_info {
    instance_type   = var.broker_instance_type
    client_subnets  = var.subnet_ids
    security_groups = [aws_security_group.brokers.id]

    storage_info {
      ebs_storage_info {
        volume_size = var.broker_volume_size_gib
      }
    }

    connectivity_info {
      public_access {
        type = "DISABLED"
      }
    }
  }

  configuration_info {
    arn      = aws_msk_configuration.this.arn
    revision = aws_msk_configuration.this.latest_revision
  }

  client_authentication {
    unauthenticated = false

    sasl {
      iam = true
    }
  }

  encryption_info {
    encryption_at_rest_kms_key_arn = aws_kms_key.this.arn

    encryption_in_transit {
      client_broker = "TLS"
      in_cluster    = true
    }
  }

  # Prometheus can scrape the JMX and node exporters (dead-letter and lag alerts).
  open_monitoring {
    prometheus {
      jmx_exporter {
        enabled_in_broker = true
      }
      node_exporter {
        enabled_in_broker = true
      }
    }
  }

  logging_info {
    broker_logs {
      cloudwatch_logs {
        enabled   = true
        log_group = aws_cloudwatch_log_group.brokers.name
      }
    }
  }
}

# What a Kafka client of this cluster needs (Knative's Kafka controller and data plane): connect,
# manage and use topics and consumer groups — of this cluster only.
data "aws_iam_policy_document" "client" {
  statement {
    sid       = "Cluster"
    effect    = "Allow"
    actions   = ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster", "kafka-cluster:DescribeClusterDynamicConfiguration"]
    resources = [aws_msk_cluster.this.arn]
  }

  statement {
    sid    = "Topics"
    effect = "Allow"
    actions = [
      "kafka-cluster:CreateTopic",
      "kafka-cluster:DeleteTopic",
      "kafka-cluster:DescribeTopic",
      "kafka-cluster:AlterTopic",
      "kafka-cluster:DescribeTopicDynamicConfiguration",
      "kafka-cluster:AlterTopicDynamicConfiguration",
      "kafka-cluster:ReadData",
      "kafka-cluster:WriteData",
    ]
    resources = ["${replace(aws_msk_cluster.this.arn, ":cluster/", ":topic/")}/*"]
  }

  statement {
    sid       = "ConsumerGroups"
    effect    = "Allow"
    actions   = ["kafka-cluster:AlterGroup", "kafka-cluster:DescribeGroup", "kafka-cluster:DeleteGroup"]
    resources = ["${replace(aws_msk_cluster.this.arn, ":cluster/", ":group/")}/*"]
  }
}
