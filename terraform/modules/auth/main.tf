# Identity for the upload API. Each tenant's system gets an app client of its own and obtains
# access tokens with the OAuth2 client-credentials grant. Such tokens carry no user attributes
# (no `custom:tenant`): the tenant travels as a scope. The resource server declares
# `uploads:write` and one `tenant:<id>` scope per tenant; tenant <id>'s client is allowed exactly
# `uploads:write` + `tenant:<id>`, and Cognito grants a client only its allowed scopes. The upload
# API (api/auth.py, `SITEVEIL_API_RESOURCE_SERVER` = `resource_server_identifier`) checks the
# signature against the pool's JWKS, `iss`, `token_use = access`, `client_id` (one of
# `client_ids`), the `uploads:write` scope, and takes the tenant from the one `tenant:<id>` scope.
# Accounts are created by administrators only: no self sign-up.

data "aws_region" "current" {}

locals {
  issuer       = "https://cognito-idp.${data.aws_region.current.name}.amazonaws.com/${aws_cognito_user_pool.this.id}"
  upload_scope = "${aws_cognito_resource_server.upload_api.identifier}/uploads:write"
}

resource "aws_cognito_user_pool" "this" {
  name                     = var.name
  deletion_protection      = var.deletion_protection ? "ACTIVE" : "INACTIVE"
  mfa_configuration        = var.mfa_configuration
  user_pool_tier           = var.threat_protection == "OFF" ? "ESSENTIALS" : "PLUS"
  username_attributes      = ["email"]
  auto_verified_attributes = ["email"]
  tags                     = var.tags

  admin_create_user_config {
    allow_admin_create_user_only = true
  }

  password_policy {
    minimum_length                   = 14
    require_lowercase                = true
    require_uppercase                = true
    require_numbers                  = true
    require_symbols                  = true
    temporary_password_validity_days = 3
  }

  software_token_mfa_configuration {
    enabled = true
  }

  account_recovery_setting {
    recovery_mechanism {
      name     = "verified_email"
      priority = 1
    }
  }

  # Threat protection (compromised credentials, adaptive authentication) needs the Plus tier.
  user_pool_add_ons {
    advanced_security_mode = var.threat_protection
  }
}

resource "aws_cognito_user_pool_domain" "this" {
  domain       = var.domain_prefix
  user_pool_id = aws_cognito_user_pool.this.id
}

resource "aws_cognito_resource_server" "upload_api" {
  user_pool_id = aws_cognito_user_pool.this.id
  identifier   = var.api_identifier
  name         = "siteveil upload API"

  scope {
    scope_name        = "uploads:write"
    scope_description = "Request presigned upload URLs"
  }

  # One scope per tenant: the tenant a machine client acts for (the API reads it from `scope`).
  dynamic "scope" {
    for_each = sort(var.tenants)
    content {
      scope_name        = "tenant:${scope.value}"
      scope_description = "Act for tenant ${scope.value}"
    }
  }
}

# Machine-to-machine clients, one per tenant: client id + secret → access token with the
# uploads:write scope and the tenant's own scope.
resource "aws_cognito_user_pool_client" "tenant" {
  for_each = toset(var.tenants)

  name                                 = "${var.name}-tenant-${each.key}"
  user_pool_id                         = aws_cognito_user_pool.this.id
  generate_secret                      = true
  allowed_oauth_flows                  = ["client_credentials"]
  allowed_oauth_flows_user_pool_client = true
  allowed_oauth_scopes = [
    local.upload_scope,
    "${aws_cognito_resource_server.upload_api.identifier}/tenant:${each.key}",
  ]
  supported_identity_providers  = ["COGNITO"]
  explicit_auth_flows           = ["ALLOW_REFRESH_TOKEN_AUTH"]
  prevent_user_existence_errors = "ENABLED"
  enable_token_revocation       = true
  access_token_validity         = var.access_token_validity_minutes
  id_token_validity             = var.access_token_validity_minutes
  refresh_token_validity        = 1

  token_validity_units {
    access_token  = "minutes"
    id_token      = "minutes"
    refresh_token = "days"
  }
}
