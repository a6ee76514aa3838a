variable "name" {
  description = "Prefix of every bucket name (`<name>-uploads`, `<name>-results`, `<name>-models`, `<name>-access-logs`). Bucket names are global: include the account or region when in doubt."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,48}[a-z0-9]$", var.name))
    error_message = "name must be 3-50 characters of a-z, 0-9 and '-', starting and ending with a letter or digit (the longest bucket name it yields must stay within S3's 63)."
  }
}

variable "models_prefix" {
  description = "Key prefix of the Triton model repositories in the models bucket (`export/publish.py` writes `<prefix><name>/<version>/`); the storage initializer may read only below it."
  type        = string
  default     = "repositories/"

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*/$", var.models_prefix))
    error_message = "models_prefix must be a non-empty key prefix ending in '/'."
  }
}

variable "api_state_prefix" {
  description = "Key prefix, in the uploads bucket, of the upload API's state (image index, batch manifests, hashed API keys). Lifecycle never expires it."
  type        = string
  default     = "api/"

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*/$", var.api_state_prefix)) && !startswith(var.api_state_prefix, "incoming/")
    error_message = "api_state_prefix must be a non-empty key prefix ending in '/', outside incoming/ (state must neither expire nor trigger events)."
  }
}

variable "uploads_expiration_days" {
  description = "Days after which an original upload under `incoming/` is deleted whatever happened to it: the GDPR safety net behind the transformer's own deletion."
  type        = number
  default     = 1

  validation {
    condition     = var.uploads_expiration_days >= 1 && var.uploads_expiration_days <= 30 && floor(var.uploads_expiration_days) == var.uploads_expiration_days
    error_message = "uploads_expiration_days must be a whole number of days between 1 and 30: originals are personal data and must not linger."
  }
}

variable "results_transition_ia_days" {
  description = "Days after which results move to STANDARD_IA (S3 requires at least 30)."
  type        = number
  default     = 30

  validation {
    condition     = var.results_transition_ia_days >= 30 && floor(var.results_transition_ia_days) == var.results_transition_ia_days
    error_message = "results_transition_ia_days must be a whole number of at least 30 (S3's minimum for STANDARD_IA)."
  }
}

variable "results_transition_glacier_ir_days" {
  description = "Days after which results move to GLACIER_IR; S3 wants them 30 days in STANDARD_IA first."
  type        = number
  default     = 90

  validation {
    condition     = var.results_transition_glacier_ir_days >= var.results_transition_ia_days + 30 && floor(var.results_transition_glacier_ir_days) == var.results_transition_glacier_ir_days
    error_message = "results_transition_glacier_ir_days must be a whole number at least 30 days after results_transition_ia_days."
  }
}

variable "results_expiration_days" {
  description = "Days after which results are deleted; 0 keeps them forever."
  type        = number
  default     = 0

  validation {
    condition     = var.results_expiration_days == 0 || var.results_expiration_days > var.results_transition_glacier_ir_days + 90
    error_message = "results_expiration_days must be 0 (keep) or more than 90 days after results_transition_glacier_ir_days (GLACIER_IR bills 90 days at least)."
  }
}

variable "shadow_expiration_days" {
  description = "Days after which shadow-model results (under `shadow/`) are deleted; they only serve the comparison report."
  type        = number
  default     = 30

  validation {
    condition     = var.shadow_expiration_days >= 1 && var.shadow_expiration_days <= 365
    error_message = "shadow_expiration_days must be between 1 and 365."
  }
}

variable "models_noncurrent_version_expiration_days" {
  description = "Days a replaced or deleted model file stays recoverable in the versioned models bucket."
  type        = number
  default     = 90

  validation {
    condition     = var.models_noncurrent_version_expiration_days >= 1
    error_message = "models_noncurrent_version_expiration_days must be at least 1."
  }
}

variable "access_log_retention_days" {
  description = "Days the S3 server access logs of the three buckets are kept."
  type        = number
  default     = 365

  validation {
    condition     = var.access_log_retention_days >= 1
    error_message = "access_log_retention_days must be at least 1."
  }
}

variable "cors_allowed_origins" {
  description = "Web origins allowed to PUT to presigned upload URLs and GET results from a browser. Empty: no CORS rules (server-side clients only)."
  type        = list(string)
  default     = []

  validation {
    condition = alltrue([
      for origin in var.cors_allowed_origins :
      can(regex("^https://[A-Za-z0-9*.-]+(:[0-9]+)?$", origin)) || can(regex("^http://(localhost|127\\.0\\.0\\.1)(:[0-9]+)?$", origin))
    ])
    error_message = "Every CORS origin must be https://host[:port] (http only for localhost / 127.0.0.1), without a path; a bare '*' is refused."
  }
}

variable "cors_max_age_seconds" {
  description = "How long browsers may cache a CORS preflight answer."
  type        = number
  default     = 3000

  validation {
    condition     = var.cors_max_age_seconds >= 0 && var.cors_max_age_seconds <= 86400
    error_message = "cors_max_age_seconds must be between 0 and 86400."
  }
}

variable "kms_deletion_window_days" {
  description = "Waiting period before the customer managed key is deleted after a destroy."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30
    error_message = "kms_deletion_window_days must be between 7 and 30 (AWS limits)."
  }
}

variable "enforce_tls" {
  description = "Bucket policies deny every request not made over TLS 1.2 or newer. Only a local emulator that speaks plain HTTP needs false."
  type        = bool
  default     = true
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete non-empty buckets. Keep false in production; tests against an emulator set it."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
