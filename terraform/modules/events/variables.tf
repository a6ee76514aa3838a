variable "name" {
  description = "Prefix of the rule and queue names."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9_-]{0,50}$", var.name))
    error_message = "name must be 1-51 characters of letters, digits, '_' and '-' (SQS and EventBridge name limits)."
  }
}

variable "uploads_bucket_name" {
  description = "The bucket whose `Object Created` events are routed (EventBridge notifications must be on: the storage module does it)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.uploads_bucket_name))
    error_message = "uploads_bucket_name must be a valid S3 bucket name."
  }
}

variable "incoming_prefix" {
  description = "Only keys under this prefix are routed to the queue."
  type        = string
  default     = "incoming/"

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*/$", var.incoming_prefix))
    error_message = "incoming_prefix must be a non-empty S3 key prefix ending in '/' (an empty prefix would route every object, results included)."
  }
}

variable "processing_timeout_seconds" {
  description = "Longest time one event may take from receipt to deletion by its consumer (relay / event source, including the broker's delivery retries)."
  type        = number
  default     = 120

  validation {
    condition     = var.processing_timeout_seconds >= 1 && var.processing_timeout_seconds <= 7200
    error_message = "processing_timeout_seconds must be between 1 and 7200."
  }
}

variable "visibility_timeout_seconds" {
  description = "How long a received message stays hidden. Null: 3 x processing_timeout_seconds, so a slow consumer is not raced by a second delivery of the same image."
  type        = number
  default     = null

  validation {
    condition     = var.visibility_timeout_seconds == null || try(var.visibility_timeout_seconds >= var.processing_timeout_seconds && var.visibility_timeout_seconds <= 43200, false)
    error_message = "visibility_timeout_seconds must be at least processing_timeout_seconds and at most 43200 (12 h, the SQS limit)."
  }
}

variable "max_receive_count" {
  description = "Receives after which a message moves to the dead-letter queue."
  type        = number
  default     = 5

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000
    error_message = "max_receive_count must be between 1 and 1000."
  }
}

variable "message_retention_seconds" {
  description = "How long an undelivered event waits in the main queue."
  type        = number
  default     = 345600

  validation {
    condition     = var.message_retention_seconds >= 60 && var.message_retention_seconds <= 1209600
    error_message = "message_retention_seconds must be between 60 and 1209600 (14 days)."
  }
}

variable "dlq_message_retention_seconds" {
  description = "How long a dead letter is kept for inspection and redrive (the SQS maximum by default)."
  type        = number
  default     = 1209600

  validation {
    condition     = var.dlq_message_retention_seconds >= 60 && var.dlq_message_retention_seconds <= 1209600
    error_message = "dlq_message_retention_seconds must be between 60 and 1209600 (14 days)."
  }
}

variable "kms_key_arn" {
  description = "Customer managed key for both queues (its policy must let events.amazonaws.com use it; the storage module's key does). Null: SQS-managed encryption."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN or null."
  }
}

variable "restrict_dead_letter_sources" {
  description = "Set a redrive-allow policy so that only the upload-events queue may use the dead-letter queue. Only emulators that drop RedriveAllowPolicy (moto) need false."
  type        = bool
  default     = true
}

variable "dlq_alarm_actions" {
  description = "Actions (e.g. SNS topic ARNs) notified when a message lands in the dead-letter queue. Empty: no alarm."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
