variable "region" {
  description = "AWS region of the whole deployment."
  type        = string
  default     = "eu-west-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as eu-west-1."
  }
}

variable "name" {
  description = "Prefix of every resource name. Bucket names are global: make it unique (e.g. siteveil-<account>-<region>)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,28}[a-z0-9]$", var.name))
    error_message = "name must be 3-30 lower-case letters, digits and '-', starting with a letter."
  }
}

variable "vpc_id" {
  description = "VPC for EKS and MSK (bring your own: networking is shared infrastructure)."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets, one per availability zone (2 or 3), with a route to the internet through NAT, or else VPC endpoints for ec2, ecr.api, ecr.dkr, s3, sts, ssm, sqs and eks (Karpenter's list for private clusters; its getting-started guide) plus kafka for MSK."
  type        = list(string)
}

variable "cors_allowed_origins" {
  description = "Web origins that upload from a browser."
  type        = list(string)
  default     = []
}

variable "cognito_domain_prefix" {
  description = "Prefix of the Cognito domain serving the token endpoint."
  type        = string
}

variable "tenants" {
  description = "Tenant ids that get a Cognito machine client each (modules/auth). Empty: the API takes API keys only."
  type        = list(string)
  default     = []
}

variable "kafka_broker_class" {
  description = "Knative Kafka broker class (chart `broker.class`): Kafka or KafkaNamespaced."
  type        = string
  default     = "Kafka"
}

variable "cluster_admin_arns" {
  description = "IAM principals with cluster-admin on EKS."
  type        = list(string)
  default     = []
}

variable "gpu_capacity" {
  description = "karpenter or managed-node-group."
  type        = string
  default     = "karpenter"
}

variable "tags" {
  description = "Tags on every resource (provider default_tags)."
  type        = map(string)
  default     = {}
}
