# IAM roles for service accounts (IRSA). Each duty is one policy, scoped to a bucket *prefix* (or
# to one queue / one MSK cluster); roles combine duties:
#   inference     = read uploads + write (and replace) results/ (+ delete originals) + read models
#   shadow        = read uploads + write shadow/                       + read models
#   event_source  = consume the upload-events queue
#   api           = presign uploads into incoming/ + read results/ + its own state under api/
#   shadow_report = read results/ and shadow/ + write its reports under shadow-reports/ (the
#                   chart's shadowReport CronJob: `python -m ops shadow-report --s3`)
#   knative_kafka = Kafka client of the MSK cluster (Knative's Kafka controller and data plane)
# "read models" is the storage initializer's duty: KServe runs the storage initializer as an init
# container of the InferenceService pod, under the pod's service account, so it belongs to the
# inference and shadow roles rather than to a role of its own.
#
# Listing. No role may list the uploads bucket: its keys name every tenant and image, and
# nothing needs a listing there (the transformer reads the one key its event names and answers a
# 403 for a missing upload like a 404: without s3:ListBucket S3 answers 403 for a missing key,
# Amazon S3 API Reference, GetObject, "Permissions"). On the results and API-state buckets
# ListBucket uses StringLikeIfExists on s3:prefix: listings are limited to the role's prefixes,
# while requests that carry no prefix still count — S3 consults ListBucket to answer 404 rather
# than 403 for a missing result.json (the API's "pending", the transformer's duplicate check) and
# HeadBucket needs it. The cost there: a listing without any prefix reveals result key names (no
# content); the uploads bucket, which the customer's presigned URLs point at, reveals nothing.

locals {
  s3_via         = "s3.${local.region}.amazonaws.com"
  sqs_via        = "sqs.${local.region}.amazonaws.com"
  incoming       = var.storage.incoming_prefix
  results        = var.storage.results_prefix
  shadow         = var.storage.shadow_prefix
  models         = var.storage.models_prefix
  api_state      = var.storage.api_state_prefix
  shadow_reports = var.storage.shadow_reports_prefix

  # Duty → (bucket, prefix, object actions, KMS actions): one policy each, same shape.
  s3_duties = {
    read_uploads     = { bucket = var.storage.uploads_bucket_arn, list = false, prefixes = [local.incoming], actions = ["s3:GetObject"], kms = ["kms:Decrypt"] }
    delete_originals = { bucket = var.storage.uploads_bucket_arn, list = false, prefixes = [local.incoming], actions = ["s3:DeleteObject"], kms = [] }
    # GetObject too: a duplicate event re-reads result.json instead of redoing the work.
    write_results = { bucket = var.storage.results_bucket_arn, list = true, prefixes = [local.results], actions = ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"], kms = ["kms:GenerateDataKey", "kms:Decrypt"] }
    write_shadow  = { bucket = var.storage.results_bucket_arn, list = true, prefixes = [local.shadow], actions = ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"], kms = ["kms:GenerateDataKey", "kms:Decrypt"] }
    read_models   = { bucket = var.storage.models_bucket_arn, list = true, prefixes = [local.models], actions = ["s3:GetObject", "s3:GetObjectVersion"], kms = ["kms:Decrypt"] }
    # A presigned PUT/POST is authorised as the signer: the API needs PutObject where customers upload.
    presign_uploads = { bucket = var.storage.uploads_bucket_arn, list = false, prefixes = [local.incoming], actions = ["s3:PutObject"], kms = ["kms:GenerateDataKey"] }
    read_results    = { bucket = var.storage.results_bucket_arn, list = true, prefixes = [local.results], actions = ["s3:GetObject"], kms = ["kms:Decrypt"] }
    api_state       = { bucket = var.storage.api_state_bucket_arn, list = true, prefixes = [local.api_state], actions = ["s3:GetObject", "s3:PutObject"], kms = ["kms:GenerateDataKey", "kms:Decrypt"] }
    read_shadow     = { bucket = var.storage.results_bucket_arn, list = true, prefixes = [local.shadow], actions = ["s3:GetObject"], kms = ["kms:Decrypt"] }
    write_reports   = { bucket = var.storage.results_bucket_arn, list = true, prefixes = [local.shadow_reports], actions = ["s3:PutObject"], kms = ["kms:GenerateDataKey"] }
  }
}

data "aws_iam_policy_document" "s3_duty" {
  for_each = local.s3_duties

  statement {
    sid       = "Objects"
    effect    = "Allow"
    actions   = each.value.actions
    resources = [for prefix in each.value.prefixes : "${each.value.bucket}/${prefix}*"]
  }

  dynamic "statement" {
    for_each = each.value.list ? [each.value] : []
    content {
      sid       = "ListUnderPrefix"
      effect    = "Allow"
      actions   = ["s3:ListBucket"]
      resources = [statement.value.bucket]

      condition {
        test     = "StringLikeIfExists"
        variable = "s3:prefix"
        values   = [for prefix in statement.value.prefixes : "${prefix}*"]
      }
    }
  }

  dynamic "statement" {
    for_each = length(each.value.kms) > 0 ? [each.value.kms] : []
    content {
      sid       = "KeyThroughS3"
      effect    = "Allow"
      actions   = statement.value
      resources = [var.storage.kms_key_arn]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = [local.s3_via]
      }
    }
  }
}

data "aws_iam_policy_document" "consume_queue" {
  statement {
    sid    = "ConsumeUploadEvents"
    effect = "Allow"
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:ChangeMessageVisibility",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueUrl",
    ]
    resources = [var.queue.arn]
  }

  dynamic "statement" {
    for_each = var.queue.kms_key_arn == null ? [] : [var.queue.kms_key_arn]
    content {
      sid       = "DecryptUploadEvents"
      effect    = "Allow"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = [local.sqs_via]
      }
    }
  }
}

locals {
  # Our policies, by name. The Karpenter and Kafka ones exist only when that capacity is on.
  policies = merge(
    { for duty, document in data.aws_iam_policy_document.s3_duty : duty => document.json },
    { consume_queue = data.aws_iam_policy_document.consume_queue.json },
    var.msk == null ? {} : { kafka_client = var.msk.client_policy_json },
    local.karpenter ? {
      karpenter_controller = data.aws_iam_policy_document.karpenter_controller["this"].json
      karpenter_discovery  = data.aws_iam_policy_document.karpenter_discovery["this"].json
    } : {},
  )

  aws_managed = "arn:${local.partition}:iam::aws:policy"

  # Roles of the release's service accounts, and of add-ons. `delete_originals` is dropped from
  # the inference role when allow_delete_originals is false.
  app_roles = {
    inference = {
      subjects = ["${var.namespace}:${var.service_accounts.inference}"]
      policies = ["read_uploads", "write_results", "read_models", "delete_originals"]
      managed  = []
    }
    shadow = {
      subjects = ["${var.namespace}:${var.service_accounts.shadow}"]
      policies = ["read_uploads", "write_shadow", "read_models"]
      managed  = []
    }
    event_source = {
      subjects = ["${var.namespace}:${var.service_accounts.event_source}"]
      policies = ["consume_queue"]
      managed  = []
    }
    api = {
      subjects = ["${var.namespace}:${var.service_accounts.api}"]
      policies = ["presign_uploads", "read_results", "api_state"]
      managed  = []
    }
    shadow_report = {
      subjects = ["${var.namespace}:${var.service_accounts.shadow_report}"]
      policies = ["read_results", "read_shadow", "write_reports"]
      managed  = []
    }
  }

  addon_roles = {
    vpc_cni = {
      subjects = ["kube-system:aws-node"]
      policies = []
      managed  = ["${local.aws_managed}/AmazonEKS_CNI_Policy"]
    }
    ebs_csi = {
      subjects = ["kube-system:ebs-csi-controller-sa"]
      policies = []
      managed  = ["${local.aws_managed}/service-role/AmazonEBSCSIDriverPolicy"]
    }
  }

  optional_roles = merge(
    var.msk == null ? {} : {
      knative_kafka = {
        subjects = concat(
          [for s in var.knative_kafka_service_accounts : replace(s, "/", ":")],
          var.kafka_broker_class == "KafkaNamespaced" ? ["${var.namespace}:knative-kafka-broker-data-plane"] : [],
        )
        policies = ["kafka_client"]
        managed  = []
      }
    },
    local.karpenter ? {
      karpenter = {
        subjects = ["${var.karpenter_namespace}:karpenter"]
        policies = ["karpenter_controller", "karpenter_discovery"]
        managed  = []
      }
    } : {},
  )

  roles = {
    for name, role in merge(local.app_roles, local.addon_roles, local.optional_roles) :
    name => merge(role, {
      policies = [for p in role.policies : p if p != "delete_originals" || var.allow_delete_originals]
    })
  }

  role_policy_pairs = {
    for pair in flatten([for role, spec in local.roles : [for p in spec.policies : { role = role, policy = p }]]) :
    "${pair.role}/${pair.policy}" => pair
  }
  role_managed_pairs = {
    for pair in flatten([for role, spec in local.roles : [for arn in spec.managed : { role = role, arn = arn }]]) :
    "${pair.role}/${basename(pair.arn)}" => pair
  }
}

data "aws_iam_policy_document" "irsa_assume" {
  for_each = local.roles

  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.this.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.oidc_host}:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.oidc_host}:sub"
      values   = [for s in each.value.subjects : "system:serviceaccount:${s}"]
    }
  }
}

resource "aws_iam_role" "irsa" {
  for_each = local.roles

  name               = "${var.name}-${replace(each.key, "_", "-")}"
  assume_role_policy = data.aws_iam_policy_document.irsa_assume[each.key].json
  tags               = var.tags
}

resource "aws_iam_policy" "this" {
  for_each = local.policies

  name        = "${var.name}-${replace(each.key, "_", "-")}"
  description = "siteveil ${var.name}: ${replace(each.key, "_", " ")}"
  policy      = each.value
  tags        = var.tags
}

resource "aws_iam_role_policy_attachment" "irsa" {
  for_each = local.role_policy_pairs

  role       = aws_iam_role.irsa[each.value.role].name
  policy_arn = aws_iam_policy.this[each.value.policy].arn
}

resource "aws_iam_role_policy_attachment" "irsa_managed" {
  for_each = local.role_managed_pairs

  role       = aws_iam_role.irsa[each.value.role].name
  policy_arn = each.value.arn
}
