# IAM roles for service accounts (IRSA). Each duty is one policy, scoped to a bucket *prefix* (or
# to one queue / one MSK cluster); roles combine duties:
#   inference     = read uploads + write results/ (+ delete originals) + read models
#   shadow        = read uploads + write shadow/                       + read models
#   event_source  = consume the upload-events queue
#   knative_kafka = Kafka client of the MSK cluster (Knative's Kafka controller and data plane)
# "read models" is the storage initializer's duty: KServe runs the storage initializer as an init
# container of the InferenceService pod, under the pod's service account, so it belongs to the
# inference and shadow roles rather than to a role of its own.

locals {
  s3_via   = "s3.${local.region}.amazonaws.com"
  sqs_via  = "sqs.${local.region}.amazonaws.com"
  incoming = var.storage.incoming_prefix
  results  = var.storage.results_prefix
  shadow   = var.storage.shadow_prefix
  models   = var.storage.models_prefix
}

data "aws_iam_policy_document" "read_uploads" {
  statement {
    sid       = "ReadOriginals"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = ["${var.storage.uploads_bucket_arn}/${local.incoming}*"]
  }

  # Without ListBucket a missing object answers 403 instead of 404 (the transformer maps 404 to
  # "do not retry").
  statement {
    sid       = "ListOriginals"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [var.storage.uploads_bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.incoming}*"]
    }
  }

  statement {
    sid       = "DecryptOriginals"
    effect    = "Allow"
    actions   = ["kms:Decrypt"]
    resources = [var.storage.kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.s3_via]
    }
  }
}

data "aws_iam_policy_document" "delete_originals" {
  statement {
    sid       = "DeleteOriginals"
    effect    = "Allow"
    actions   = ["s3:DeleteObject"]
    resources = ["${var.storage.uploads_bucket_arn}/${local.incoming}*"]
  }
}

data "aws_iam_policy_document" "write_results" {
  for_each = {
    results = local.results
    shadow  = local.shadow
  }

  # GetObject too: a duplicate event re-reads result.json instead of redoing the work.
  statement {
    sid       = "ReadWriteResults"
    effect    = "Allow"
    actions   = ["s3:PutObject", "s3:GetObject"]
    resources = ["${var.storage.results_bucket_arn}/${each.value}*"]
  }

  statement {
    sid       = "ListResults"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [var.storage.results_bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${each.value}*"]
    }
  }

  statement {
    sid       = "EncryptResults"
    effect    = "Allow"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [var.storage.kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.s3_via]
    }
  }
}

data "aws_iam_policy_document" "read_models" {
  statement {
    sid       = "ReadModelRepository"
    effect    = "Allow"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = ["${var.storage.models_bucket_arn}/${local.models}*"]
  }

  statement {
    sid       = "ListModelRepository"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [var.storage.models_bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.models}*"]
    }
  }

  statement {
    sid       = "DecryptModels"
    effect    = "Allow"
    actions   = ["kms:Decrypt"]
    resources = [var.storage.kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.s3_via]
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
    {
      read_uploads     = data.aws_iam_policy_document.read_uploads.json
      delete_originals = data.aws_iam_policy_document.delete_originals.json
      write_results    = data.aws_iam_policy_document.write_results["results"].json
      write_shadow     = data.aws_iam_policy_document.write_results["shadow"].json
      read_models      = data.aws_iam_policy_document.read_models.json
      consume_queue    = data.aws_iam_policy_document.consume_queue.json
    },
    var.msk == null ? {} : { kafka_client = var.msk.client_policy_json },
    local.karpenter ? { karpenter_controller = data.aws_iam_policy_document.karpenter_controller["this"].json } : {},
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
        subjects = [for s in var.knative_kafka_service_accounts : replace(s, "/", ":")]
        policies = ["kafka_client"]
        managed  = []
      }
    },
    local.karpenter ? {
      karpenter = {
        subjects = ["${var.karpenter_namespace}:karpenter"]
        policies = ["karpenter_controller"]
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
