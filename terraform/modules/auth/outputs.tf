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

output "audience" {
  description = "The app client id. Cognito access tokens carry it as `client_id` (they have no `aud`); ID tokens carry it as `aud`."
  value       = aws_cognito_user_pool_client.upload_api.id
}

output "upload_scope" {
  description = "OAuth scope an access token needs to request upload URLs."
  value       = local.upload_scope
}

output "token_endpoint" {
  description = "OAuth2 token endpoint (client-credentials grant)."
  value       = "https://${aws_cognito_user_pool_domain.this.domain}.auth.${data.aws_region.current.name}.amazoncognito.com/oauth2/token"
}

output "client_secret" {
  description = "Secret of the upload-API app client (hand it to the customer's system, never to a browser)."
  value       = aws_cognito_user_pool_client.upload_api.client_secret
  sensitive   = true
}
