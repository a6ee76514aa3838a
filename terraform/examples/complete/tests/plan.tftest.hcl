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
  tenants               = ["acme", "globex"]
}

run "karpenter" {
  command = apply

  assert {
    condition     = length(setsubtract(["region", "uploadsBucket", "uploadsPrefix", "resultsBucket", "queueUrl", "queueArn", "eventBusArn", "modelStorageUri", "mskBootstrapServers", "inferenceRoleArn", "shadowRoleArn", "eventSourceRoleArn", "apiRoleArn", "apiStateBucket", "cognitoUserPoolId", "cognitoAppClientIds", "cognitoResourceServer", "eksClusterName", "karpenterNodeRoleName"], keys(output.helm_values.aws))) == 0
    error_message = "helm_values.aws misses a chart key"
  }

  assert {
    condition     = output.helm_values.aws.uploadsPrefix == "incoming/"
    error_message = "uploads prefix must be incoming/"
  }

  # Issue 12 #11: Terraform's default GPU capacity is Karpenter, so the chart must render its
  # NodePool (karpenter.enabled defaults to false in the chart).
  assert {
    condition     = output.helm_values.karpenter.enabled == true
    error_message = "gpu_capacity = karpenter must switch the chart's Karpenter NodePool on"
  }

  # Issue 12 #4: three subnets, three brokers: replication factor 3.
  assert {
    condition     = output.helm_values.broker.replicationFactor == 3 && output.helm_values.deadLetter.replicationFactor == 3
    error_message = "three MSK brokers: the topics' replication factor is 3"
  }

  # Issue 12 #9: one machine client per tenant, each allowed the upload scope and its own tenant
  # scope only (client-credentials tokens carry no user attributes; the API reads the tenant from
  # the scope).
  assert {
    condition     = length(output.helm_values.aws.cognitoAppClientIds) == 2 && output.helm_values.aws.cognitoResourceServer == "siteveil-upload-api"
    error_message = "one Cognito app client per tenant, and the resource server identifier for the API"
  }

  assert {
    condition     = toset(module.auth.tenant_client_scopes["acme"]) == toset(["siteveil-upload-api/uploads:write", "siteveil-upload-api/tenant:acme"])
    error_message = "tenant acme's client must be allowed exactly uploads:write and tenant:acme"
  }

  # Issue 12 #3: dead letters go through kafka-sink-receiver, which runs as
  # knative-kafka-sink-data-plane (eventing-kafka-broker data-plane/config/sink/500-receiver.yaml).
  assert {
    condition     = contains(output.knative_kafka_service_accounts, "knative-eventing:knative-kafka-sink-data-plane") && contains(output.knative_kafka_service_accounts, "knative-eventing:knative-kafka-broker-data-plane")
    error_message = "the MSK role must trust the broker's and the KafkaSink's data planes"
  }

  # Issue 12 #10: the chart must be installed where the roles trust its service accounts.
  assert {
    condition     = output.namespace == "siteveil" && output.helm_values.broker.class == "Kafka"
    error_message = "the release namespace the roles trust is an output"
  }

  assert {
    condition     = contains(module.auth.resource_server_scopes, "tenant:globex") && contains(module.auth.resource_server_scopes, "uploads:write")
    error_message = "the resource server must declare uploads:write and a tenant:<id> scope per tenant"
  }
}

run "two_zones" {
  command = apply

  variables {
    private_subnet_ids = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
    tenants            = []
  }

  # Issue 12 #4: two brokers cannot hold three replicas (Kafka: replication factor larger than
  # available brokers); the chart default of 3 left Broker and KafkaSink never Ready.
  assert {
    condition     = output.helm_values.broker.replicationFactor == 2 && output.helm_values.deadLetter.replicationFactor == 2
    error_message = "two MSK brokers: the topics' replication factor must be 2"
  }

  # No tenant clients: the chart gets no pool (API keys only) rather than a pool without audience.
  assert {
    condition     = output.helm_values.aws.cognitoUserPoolId == "" && length(output.helm_values.aws.cognitoAppClientIds) == 0
    error_message = "without tenants the API must run on API keys only"
  }
}

run "namespaced_broker" {
  command = apply

  variables {
    kafka_broker_class = "KafkaNamespaced"
  }

  # Issue 12 #10: a KafkaNamespaced broker's data plane runs in the release namespace under a
  # copy of knative-kafka-broker-data-plane (eventing-kafka-broker namespaced_broker.go).
  assert {
    condition     = contains(output.knative_kafka_service_accounts, "siteveil:knative-kafka-broker-data-plane") && output.helm_values.broker.class == "KafkaNamespaced"
    error_message = "a namespaced broker's data plane must be trusted in the release namespace"
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

  assert {
    condition     = output.helm_values.karpenter.enabled == false
    error_message = "managed node groups: no Karpenter NodePool in the chart"
  }
}
