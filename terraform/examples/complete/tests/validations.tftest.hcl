# The modules' input validations refuse what would be unsafe or broken, before anything is
# created (mocked AWS provider, plan only).
mock_provider "aws" {
  # Mocked values must still pass the provider's own checks (JSON policies, ARNs).
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
  }
  mock_data "aws_region" {
    defaults = { name = "eu-west-1" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/mock" }
  }
  mock_resource "aws_iam_policy" {
    defaults = { arn = "arn:aws:iam::123456789012:policy/mock" }
  }
  mock_resource "aws_iam_openid_connect_provider" {
    defaults = { arn = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/MOCK" }
  }
  mock_resource "aws_kms_key" {
    defaults = { arn = "arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-0000-0000-000000000000" }
  }
  mock_resource "aws_s3_bucket" {
    defaults = { arn = "arn:aws:s3:::mock" }
  }
  mock_resource "aws_sqs_queue" {
    defaults = {
      arn = "arn:aws:sqs:eu-west-1:123456789012:mock"
      id  = "https://sqs.eu-west-1.amazonaws.com/123456789012/mock"
    }
  }
  mock_resource "aws_cloudwatch_event_rule" {
    defaults = { arn = "arn:aws:events:eu-west-1:123456789012:rule/mock" }
  }
  mock_resource "aws_msk_configuration" {
    defaults = { arn = "arn:aws:kafka:eu-west-1:123456789012:configuration/mock/00000000-0000-0000-0000-000000000000-1" }
  }
  mock_resource "aws_msk_cluster" {
    defaults = {
      arn                        = "arn:aws:kafka:eu-west-1:123456789012:cluster/mock/00000000-0000-0000-0000-000000000000-1"
      bootstrap_brokers_sasl_iam = "b-1.mock.kafka.eu-west-1.amazonaws.com:9098,b-2.mock.kafka.eu-west-1.amazonaws.com:9098"
    }
  }
  mock_resource "aws_eks_cluster" {
    defaults = {
      arn                   = "arn:aws:eks:eu-west-1:123456789012:cluster/mock"
      identity              = [{ oidc = [{ issuer = "https://oidc.eks.eu-west-1.amazonaws.com/id/MOCK" }] }]
      certificate_authority = [{ data = "bW9jaw==" }]
      vpc_config            = { cluster_security_group_id = "sg-0123456789abcdef0" }
    }
  }
}

variables {
  storage = {
    uploads_bucket_arn   = "arn:aws:s3:::siteveil-test-uploads"
    results_bucket_arn   = "arn:aws:s3:::siteveil-test-results"
    models_bucket_arn    = "arn:aws:s3:::siteveil-test-models"
    api_state_bucket_arn = "arn:aws:s3:::siteveil-test-uploads"
    kms_key_arn          = "arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-0000-0000-000000000000"
    incoming_prefix      = "incoming/"
    results_prefix       = "results/"
    shadow_prefix        = "shadow/"
    models_prefix        = "repositories/"
    api_state_prefix     = "api/"
  }
  queue = { arn = "arn:aws:sqs:eu-west-1:123456789012:siteveil-test-uploads" }
}

run "storage_accepts_the_defaults" {
  command = plan
  module {
    source = "../../modules/storage"
  }
  variables {
    name = "siteveil-test"
  }
}

run "storage_refuses_originals_kept_for_months" {
  command = plan
  module {
    source = "../../modules/storage"
  }
  variables {
    name                    = "siteveil-test"
    uploads_expiration_days = 90
  }
  expect_failures = [var.uploads_expiration_days]
}

run "storage_refuses_a_wildcard_cors_origin" {
  command = plan
  module {
    source = "../../modules/storage"
  }
  variables {
    name                 = "siteveil-test"
    cors_allowed_origins = ["*"]
  }
  expect_failures = [var.cors_allowed_origins]
}

run "storage_refuses_glacier_before_ia_has_run_30_days" {
  command = plan
  module {
    source = "../../modules/storage"
  }
  variables {
    name                               = "siteveil-test"
    results_transition_ia_days         = 30
    results_transition_glacier_ir_days = 45
  }
  expect_failures = [var.results_transition_glacier_ir_days]
}

run "events_refuses_an_empty_prefix" {
  command = plan
  module {
    source = "../../modules/events"
  }
  variables {
    name                = "siteveil-test"
    uploads_bucket_name = "siteveil-test-uploads"
    incoming_prefix     = ""
  }
  expect_failures = [var.incoming_prefix]
}

run "events_refuses_a_visibility_timeout_shorter_than_processing" {
  command = plan
  module {
    source = "../../modules/events"
  }
  variables {
    name                       = "siteveil-test"
    uploads_bucket_name        = "siteveil-test-uploads"
    processing_timeout_seconds = 300
    visibility_timeout_seconds = 60
  }
  expect_failures = [var.visibility_timeout_seconds]
}

run "cluster_refuses_a_role_scoped_to_a_whole_bucket" {
  command = plan
  module {
    source = "../../modules/cluster"
  }
  variables {
    name       = "siteveil-test"
    vpc_id     = "vpc-0123456789abcdef0"
    subnet_ids = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
    storage = {
      uploads_bucket_arn   = "arn:aws:s3:::siteveil-test-uploads"
      results_bucket_arn   = "arn:aws:s3:::siteveil-test-results"
      models_bucket_arn    = "arn:aws:s3:::siteveil-test-models"
      api_state_bucket_arn = "arn:aws:s3:::siteveil-test-uploads"
      kms_key_arn          = "arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-0000-0000-000000000000"
      incoming_prefix      = "incoming/"
      results_prefix       = ""
      shadow_prefix        = "shadow/"
      models_prefix        = "repositories/"
      api_state_prefix     = "api/"
    }
  }
  expect_failures = [var.storage]
}

run "cluster_refuses_an_api_endpoint_open_to_the_internet" {
  command = plan
  module {
    source = "../../modules/cluster"
  }
  variables {
    name                   = "siteveil-test"
    vpc_id                 = "vpc-0123456789abcdef0"
    subnet_ids             = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
    endpoint_public_access = true
    public_access_cidrs    = ["0.0.0.0/0"]
  }
  expect_failures = [var.public_access_cidrs]
}

run "streaming_refuses_brokers_not_spread_over_the_subnets" {
  command = plan
  module {
    source = "../../modules/streaming"
  }
  variables {
    name                      = "siteveil-test"
    vpc_id                    = "vpc-0123456789abcdef0"
    subnet_ids                = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1", "subnet-0123456789abcdef2"]
    broker_count              = 4
    client_security_group_ids = ["sg-0123456789abcdef0"]
  }
  expect_failures = [var.broker_count]
}

run "auth_refuses_a_domain_prefix_cognito_rejects" {
  command = plan
  module {
    source = "../../modules/auth"
  }
  variables {
    name          = "siteveil-test"
    domain_prefix = "my-cognito-login"
  }
  expect_failures = [var.domain_prefix]
}

run "auth_refuses_a_tenant_outside_the_key_layout" {
  command = plan
  module {
    source = "../../modules/auth"
  }
  variables {
    name          = "siteveil-test"
    domain_prefix = "siteveil-test"
    tenants       = ["acme", "Globex/../x"]
  }
  expect_failures = [var.tenants]
}

run "auth_refuses_more_tenants_than_a_resource_server_has_scopes" {
  command = plan
  module {
    source = "../../modules/auth"
  }
  variables {
    name          = "siteveil-test"
    domain_prefix = "siteveil-test"
    tenants       = [for i in range(100) : "tenant-${i}"]
  }
  expect_failures = [var.tenants]
}
