# Offline check of the complete example with a mocked AWS provider: the module graph has no cycle,
# the variable validations accept a realistic input, and the chart values carry every key.
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
  mock_resource "aws_cognito_user_pool" {
    defaults = { id = "eu-west-1_Mock01234" }
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
  region                = "eu-west-1"
  name                  = "siteveil-test"
  vpc_id                = "vpc-0123456789abcdef0"
  private_subnet_ids    = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1", "subnet-0123456789abcdef2"]
  cognito_domain_prefix = "siteveil-test"
}

run "karpenter" {
  command = apply

  assert {
    condition     = length(setsubtract(["region", "uploadsBucket", "uploadsPrefix", "resultsBucket", "queueUrl", "queueArn", "eventBusArn", "modelStorageUri", "mskBootstrapServers", "inferenceRoleArn", "shadowRoleArn", "eventSourceRoleArn", "apiRoleArn", "apiStateBucket", "cognitoUserPoolId", "cognitoAppClientIds", "eksClusterName", "karpenterNodeRoleName"], keys(output.helm_values.aws))) == 0
    error_message = "helm_values.aws misses a chart key"
  }

  assert {
    condition     = output.helm_values.aws.uploadsPrefix == "incoming/"
    error_message = "uploads prefix must be incoming/"
  }
}

run "managed_gpu_node_group" {
  command = apply

  variables {
    gpu_capacity = "managed-node-group"
  }

  assert {
    condition     = !contains(keys(output.helm_values.aws), "karpenterNodeRoleName")
    error_message = "without Karpenter the node role name must be left to the chart's default"
  }
}
