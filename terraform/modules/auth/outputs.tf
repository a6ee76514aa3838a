output "user_pool_id" {
  description = "Cognito user pool id."
  value       = aws_cognito_user_pool.this.id
}

output "user_pool_arn" {
  description = "Cognito user pool ARN."
  value       = aws_cognito_user_pool.this.arn
}

output "issuer" {
  description = "Expected `iss` claim of the tokens."
  value       = local.issuer
}

output "jwks_url" {
  description = "Where the upload API fetches the signing keys."
  value       = "${local.issuer}/.well-known/jwks.json"
}

output "client_ids" {
  description = "App client id of each tenant (tenant → id): the API's accepted audiences. Cognito access tokens carry it as `client_id` (they have no `aud`)."
  value       = { for tenant, client in aws_cognito_user_pool_client.tenant : tenant => client.id }
}

output "resource_server_identifier" {
  description = "Resource-server identifier: the API's SITEVEIL_API_RESOURCE_SERVER (chart `aws.cognitoResourceServer`); scopes are `<it>/uploads:write` and `<it>/tenant:<id>`."
  value       = aws_cognito_resource_server.upload_api.identifier
}

output "upload_scope" {
  description = "OAuth scope an access token needs to request upload URLs."
  value       = local.upload_scope
}

output "token_endpoint" {
  description = "OAuth2 token endpoint (client-credentials grant)."
  value       = "https://${aws_cognito_user_pool_domain.this.domain}.auth.${data.aws_region.current.name}.amazoncognito.com/oauth2/token"
}

output "client_secrets" {
  description = "Secret of each tenant's app client (tenant → secret; hand it to that tenant's system, never to a browser)."
  value       = { for tenant, client in aws_cognito_user_pool_client.tenant : tenant => client.client_secret }
  sensitive   = true
}

output "tenant_client_scopes" {
  description = "OAuth scopes each tenant's client may request (tenant → scopes)."
  value       = { for tenant, client in aws_cognito_user_pool_client.tenant : tenant => client.allowed_oauth_scopes }
}

output "resource_server_scopes" {
  description = "Scope names the resource server declares (`uploads:write`, `tenant:<id>`…)."
  value       = [for scope in aws_cognito_resource_server.upload_api.scope : scope.scope_name]
}
