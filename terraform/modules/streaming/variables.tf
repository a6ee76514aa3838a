variable "name" {
  description = "MSK cluster name (also the prefix of its security group, configuration and log group)."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{0,63}$", var.name))
    error_message = "name must start with a letter and hold at most 64 letters, digits and '-'."
  }
}

variable "kafka_version" {
  description = "Apache Kafka version of the brokers (MSK's recommended version by default)."
  type        = string
  default     = "3.8.x"

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.([0-9]+|x)(\\.kraft)?$", var.kafka_version))
    error_message = "kafka_version must look like 3.8.x, 3.6.0 or 3.9.x.kraft."
  }
}

variable "vpc_id" {
  description = "VPC of the brokers (the EKS cluster's VPC)."
  type        = string

  validation {
    condition     = can(regex("^vpc-[0-9a-f]+$", var.vpc_id))
    error_message = "vpc_id must be a VPC id (vpc-…)."
  }
}

variable "subnet_ids" {
  description = "Private subnets for the brokers, one per availability zone (2 or 3)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2 && length(var.subnet_ids) <= 3 && alltrue([for s in var.subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "subnet_ids must list 2 or 3 subnet ids (subnet-…), each in its own availability zone."
  }
}

variable "broker_count" {
  description = "Number of brokers; a multiple of the number of subnets. 3 lets topics keep replication factor 3 with min.insync.replicas 2."
  type        = number
  default     = 3

  validation {
    condition     = var.broker_count >= 2 && var.broker_count % length(var.subnet_ids) == 0
    error_message = "broker_count must be at least 2 and a multiple of the number of subnets."
  }
}

variable "broker_instance_type" {
  description = "Broker instance type."
  type        = string
  default     = "kafka.m7g.large"

  validation {
    condition     = startswith(var.broker_instance_type, "kafka.")
    error_message = "broker_instance_type must be an MSK instance type (kafka.…)."
  }
}

variable "broker_volume_size_gib" {
  description = "EBS storage per broker, GiB."
  type        = number
  default     = 100

  validation {
    condition     = var.broker_volume_size_gib >= 1 && var.broker_volume_size_gib <= 16384
    error_message = "broker_volume_size_gib must be between 1 and 16384."
  }
}

variable "client_security_group_ids" {
  description = "Security groups whose members may reach the brokers on 9098 (SASL/IAM over TLS): the EKS cluster / node security groups."
  type        = list(string)

  validation {
    condition     = length(var.client_security_group_ids) > 0 && alltrue([for s in var.client_security_group_ids : can(regex("^sg-[0-9a-f]+$", s))])
    error_message = "client_security_group_ids must list at least one security group id (sg-…)."
  }
}

variable "log_retention_days" {
  description = "Retention of the broker logs in CloudWatch."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of the values CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."
  }
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
