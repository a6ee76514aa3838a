variable "name" {
  description = "Name of the user pool (also the prefix of its clients)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,100}$", var.name))
    error_message = "name must be 1-100 letters, digits, '_' or '-'."
  }
}

variable "domain_prefix" {
  description = "Prefix of the Cognito hosted domain (`https://<prefix>.auth.<region>.amazoncognito.com`) that serves the token endpoint. Globally unique per region."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", var.domain_prefix)) && !can(regex("aws|amazon|cognito", var.domain_prefix))
    error_message = "domain_prefix must be lower-case letters, digits and '-' (at most 63) and must not contain aws, amazon or cognito (Cognito refuses them)."
  }
}

variable "api_identifier" {
  description = "Resource-server identifier of the upload API; scopes are `<identifier>/<scope>`."
  type        = string
  default     = "siteveil-upload-api"

  validation {
    condition     = can(regex("^[\\x21\\x23-\\x5B\\x5D-\\x7E]{1,256}$", var.api_identifier))
    error_message = "api_identifier must be 1-256 printable characters without spaces, quotes or backslashes."
  }
}

variable "tenants" {
  description = "Tenant ids that get a machine app client each (`[a-z0-9-]{1,64}`, the key layout's tenant). The tenant reaches the API as the client's `<api_identifier>/tenant:<id>` scope."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for t in var.tenants : can(regex("^[a-z0-9-]{1,64}$", t))])
    error_message = "tenants must be ids of 1-64 lower-case letters, digits or '-' (the tenant segment of incoming/<tenant>/...)."
  }

  validation {
    condition     = length(distinct(var.tenants)) == length(var.tenants)
    error_message = "tenants must not repeat."
  }

  # Cognito API reference, ResourceServerType.Scopes: "Array Members: Maximum number of 100
  # items"; one is uploads:write.
  validation {
    condition     = length(var.tenants) <= 99
    error_message = "at most 99 tenants: a Cognito resource server holds at most 100 scopes (one is uploads:write). Use another pool (or a pre-token-generation Lambda) beyond that."
  }
}

variable "access_token_validity_minutes" {
  description = "Lifetime of access tokens: short, since a stolen token can upload until it expires."
  type        = number
  default     = 60

  validation {
    condition     = var.access_token_validity_minutes >= 5 && var.access_token_validity_minutes <= 1440
    error_message = "access_token_validity_minutes must be between 5 and 1440 (Cognito limits)."
  }
}

variable "mfa_configuration" {
  description = "MFA for human users of the pool: ON (required) or OPTIONAL."
  type        = string
  default     = "ON"

  validation {
    condition     = contains(["ON", "OPTIONAL"], var.mfa_configuration)
    error_message = "mfa_configuration must be ON or OPTIONAL."
  }
}

variable "threat_protection" {
  description = "Cognito threat protection for user sign-ins: ENFORCED, AUDIT (both need the Plus feature plan, billed per user) or OFF (Essentials plan)."
  type        = string
  default     = "ENFORCED"

  validation {
    condition     = contains(["ENFORCED", "AUDIT", "OFF"], var.threat_protection)
    error_message = "threat_protection must be ENFORCED, AUDIT or OFF."
  }
}

variable "deletion_protection" {
  description = "Refuse to delete the user pool (ACTIVE) until switched off."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
