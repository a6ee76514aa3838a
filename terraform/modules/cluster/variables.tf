variable "name" {
  description = "EKS cluster name (also the prefix of its roles, key and queues)."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{0,37}$", var.name))
    error_message = "name must start with a letter and hold at most 38 letters, digits and '-' (IAM role names built from it stay within 64 characters)."
  }
}

variable "kubernetes_version" {
  description = "Kubernetes minor version of the control plane and managed node groups."
  type        = string
  default     = "1.33"

  validation {
    condition     = can(regex("^1\\.[0-9]{2}$", var.kubernetes_version))
    error_message = "kubernetes_version must be a minor version such as 1.33."
  }
}

variable "vpc_id" {
  description = "VPC of the cluster."
  type        = string

  validation {
    condition     = can(regex("^vpc-[0-9a-f]+$", var.vpc_id))
    error_message = "vpc_id must be a VPC id (vpc-…)."
  }
}

variable "subnet_ids" {
  description = "Private subnets (two availability zones at least) for the control plane ENIs and the nodes. Karpenter discovers them through the tag this module adds."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2 && alltrue([for s in var.subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "subnet_ids must list at least two subnet ids (subnet-…)."
  }
}

variable "endpoint_public_access" {
  description = "Expose the Kubernetes API endpoint publicly (only to public_access_cidrs). Off: reach it from the VPC (VPN, bastion, CI runners inside)."
  type        = bool
  default     = false
}

variable "public_access_cidrs" {
  description = "CIDRs allowed to reach a public API endpoint."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.public_access_cidrs : can(cidrhost(c, 0)) && c != "0.0.0.0/0"])
    error_message = "public_access_cidrs must be valid CIDRs and must not contain 0.0.0.0/0."
  }

  validation {
    condition     = !var.endpoint_public_access || length(var.public_access_cidrs) > 0
    error_message = "A public endpoint needs at least one entry in public_access_cidrs."
  }
}

variable "cluster_admin_arns" {
  description = "IAM principals given cluster-admin through EKS access entries (the creator gets none implicitly)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.cluster_admin_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/", a))])
    error_message = "cluster_admin_arns must be IAM role or user ARNs."
  }
}

variable "log_retention_days" {
  description = "Retention of the control-plane logs in CloudWatch."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of the values CloudWatch Logs accepts."
  }
}

variable "system_node_instance_types" {
  description = "Instance types of the managed node group that runs the system and control components (Knative, KServe, Karpenter, the event source)."
  type        = list(string)
  default     = ["m7i.large"]

  validation {
    condition     = length(var.system_node_instance_types) > 0
    error_message = "system_node_instance_types must not be empty."
  }
}

variable "system_node_count" {
  description = "Size of the system node group: min, desired and max."
  type = object({
    min     = number
    desired = number
    max     = number
  })
  default = { min = 2, desired = 2, max = 4 }

  validation {
    condition     = var.system_node_count.min >= 1 && var.system_node_count.min <= var.system_node_count.desired && var.system_node_count.desired <= var.system_node_count.max
    error_message = "system_node_count must satisfy 1 <= min <= desired <= max."
  }
}

variable "gpu_capacity" {
  description = "How GPU nodes are provided: `karpenter` creates Karpenter's prerequisites (the chart's NodePool then launches GPU nodes on demand); `managed-node-group` creates an EKS managed GPU node group that can scale to zero."
  type        = string
  default     = "karpenter"

  validation {
    condition     = contains(["karpenter", "managed-node-group"], var.gpu_capacity)
    error_message = "gpu_capacity must be karpenter or managed-node-group."
  }
}

variable "karpenter_namespace" {
  description = "Namespace of the Karpenter controller (its IRSA role trusts this namespace's `karpenter` service account)."
  type        = string
  default     = "kube-system"
}

variable "gpu_node_instance_types" {
  description = "Instance types of the managed GPU node group (managed-node-group only)."
  type        = list(string)
  default     = ["g5.xlarge", "g6.xlarge"]

  validation {
    condition     = length(var.gpu_node_instance_types) > 0 && alltrue([for t in var.gpu_node_instance_types : can(regex("^(g[0-9]+[a-z]*|p[0-9]+[a-z]*)\\.", t))])
    error_message = "gpu_node_instance_types must list NVIDIA GPU instance types (g*/p* families)."
  }
}

variable "gpu_node_min_count" {
  description = "Lower bound of the managed GPU node group (managed-node-group only). 0 needs the Cluster Autoscaler to scale up from zero."
  type        = number
  default     = 1

  validation {
    condition     = var.gpu_node_min_count >= 0
    error_message = "gpu_node_min_count must be at least 0."
  }
}

variable "gpu_node_max_count" {
  description = "Upper bound of the managed GPU node group (managed-node-group only)."
  type        = number
  default     = 4

  validation {
    condition     = var.gpu_node_max_count >= 1 && var.gpu_node_max_count >= var.gpu_node_min_count
    error_message = "gpu_node_max_count must be at least 1 and at least gpu_node_min_count."
  }
}

variable "namespace" {
  description = "Namespace of the siteveil Helm release (its service accounts are trusted by the IRSA roles)."
  type        = string
  default     = "siteveil"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.namespace))
    error_message = "namespace must be a Kubernetes namespace name."
  }
}

variable "service_accounts" {
  description = "Service account names of the chart (`inference.serviceAccount.name`, `shadow.serviceAccount.name`, `source.serviceAccount.name`, `api.serviceAccount.name`, `shadowReport.serviceAccount.name`)."
  type = object({
    inference     = optional(string, "siteveil-inference")
    shadow        = optional(string, "siteveil-shadow")
    event_source  = optional(string, "siteveil-event-source")
    api           = optional(string, "siteveil-api")
    shadow_report = optional(string, "siteveil-shadow-report")
  })
  default = {}
}

variable "knative_kafka_service_accounts" {
  description = "Service accounts of Knative's Kafka controller and data plane, `namespace/name`; they authenticate to MSK with the pod's IRSA credentials (`tokenProvider: MSKAccessTokenProvider`)."
  type        = list(string)
  # The KafkaSink (dead letters) has a data plane of its own: kafka-sink-receiver runs as
  # knative-kafka-sink-data-plane (knative-extensions/eventing-kafka-broker,
  # data-plane/config/sink/500-receiver.yaml), not as the broker's data plane.
  default = [
    "knative-eventing/kafka-controller",
    "knative-eventing/knative-kafka-broker-data-plane",
    "knative-eventing/knative-kafka-sink-data-plane",
  ]

  validation {
    condition     = alltrue([for s in var.knative_kafka_service_accounts : can(regex("^[a-z0-9-]+/[a-z0-9.-]+$", s))])
    error_message = "knative_kafka_service_accounts entries must be namespace/name."
  }
}

variable "kafka_broker_class" {
  description = "Knative Kafka broker class of the release (chart `broker.class`). KafkaNamespaced runs the broker's data plane in the release namespace, under a copy of `knative-kafka-broker-data-plane` (eventing-kafka-broker, control-plane/pkg/reconciler/broker/namespaced_broker.go), which the Kafka role then trusts too."
  type        = string
  default     = "Kafka"

  validation {
    condition     = contains(["Kafka", "KafkaNamespaced"], var.kafka_broker_class)
    error_message = "kafka_broker_class must be Kafka or KafkaNamespaced."
  }
}

variable "storage" {
  description = "Buckets, key prefixes and key of the storage module (its outputs)."
  type = object({
    uploads_bucket_arn    = string
    results_bucket_arn    = string
    models_bucket_arn     = string
    api_state_bucket_arn  = string
    kms_key_arn           = string
    incoming_prefix       = string
    results_prefix        = string
    shadow_prefix         = string
    shadow_reports_prefix = optional(string, "shadow-reports/")
    models_prefix         = string
    api_state_prefix      = string
  })

  validation {
    condition = alltrue([
      for p in [var.storage.incoming_prefix, var.storage.results_prefix, var.storage.shadow_prefix, var.storage.shadow_reports_prefix, var.storage.models_prefix, var.storage.api_state_prefix] :
      can(regex("^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*/$", p))
    ])
    error_message = "Every prefix must be non-empty and end in '/': the roles are scoped to prefixes, never to whole buckets."
  }
}

variable "allow_delete_originals" {
  description = "Let the production transformer delete originals after writing results (`--delete_original`, GDPR). The shadow never may."
  type        = bool
  default     = true
}

variable "queue" {
  description = "The upload-events queue the event source consumes (events module outputs); kms_key_arn null when the queue uses SQS-managed encryption."
  type = object({
    arn         = string
    kms_key_arn = optional(string)
  })
}

variable "msk" {
  description = "The MSK cluster Knative's Kafka components use (streaming module output `client_policy_json`); null: no Knative Kafka role (a Kafka without MSK IAM). An object, so that whether it is set is known at plan time even before the cluster exists."
  type = object({
    client_policy_json = string
  })
  default = null
}

variable "kms_deletion_window_days" {
  description = "Waiting period before the cluster's key is deleted after a destroy."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30
    error_message = "kms_deletion_window_days must be between 7 and 30."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
