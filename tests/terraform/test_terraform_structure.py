"""What matters in the Terraform, read from the HCL itself (python-hcl2): the event rule matches the
uploads bucket and the `incoming/` prefix, the queue has a dead-letter queue, the IRSA policies are
scoped to key prefixes, nothing is public, everything is encrypted, and the chart values cover the
chart's `aws` block."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.terraform.terraform_support import (
    EXAMPLES,
    MODULES,
    REPO,
    TERRAFORM_DIR,
    load_module,
    locals_of,
    named,
)
from transformer.keys import INCOMING_PREFIX, RESULTS_PREFIX, SHADOW_PREFIX

S3_OBJECT_ACTIONS = {"s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:DeleteObject"}


@pytest.fixture(scope="module")
def modules() -> dict[str, dict[str, list[Any]]]:
    return {name: load_module(TERRAFORM_DIR / "modules" / name) for name in MODULES}


def resources(module: dict[str, list[Any]], kind: str) -> dict[str, dict[str, Any]]:
    return named(module.get("resource", []), kind)


def data(module: dict[str, list[Any]], kind: str) -> dict[str, dict[str, Any]]:
    return named(module.get("data", []), kind)


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    return list(document.get("statement", []))


def all_statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Literal statements and the content of `dynamic "statement"` blocks."""
    dynamic = [
        content
        for block in document.get("dynamic", [])
        for content in block.get("statement", {}).get("content", [])
    ]
    return statements(document) + dynamic


def conditions(statement: dict[str, Any]) -> dict[str, tuple[str, list[str]]]:
    return {c["variable"]: (c["test"], c["values"]) for c in statement.get("condition", [])}


# -- layout ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("module", MODULES)
def test_module_has_the_usual_layout(module: str) -> None:
    folder = TERRAFORM_DIR / "modules" / module
    for name in ("versions.tf", "variables.tf", "outputs.tf", "README.md"):
        assert (folder / name).is_file(), f"modules/{module}/{name} is missing"


@pytest.mark.parametrize(
    "root", [f"modules/{m}" for m in MODULES] + [f"examples/{e}" for e in EXAMPLES]
)
def test_every_variable_and_output_is_documented_and_typed(root: str) -> None:
    module = load_module(TERRAFORM_DIR / root)
    variables = {n: b for block in module.get("variable", []) for n, b in block.items()}
    outputs = {n: b for block in module.get("output", []) for n, b in block.items()}
    assert (TERRAFORM_DIR / root / "README.md").is_file()
    for name, body in variables.items():
        assert body.get("description"), f"{root}: variable {name} has no description"
        assert body.get("type"), f"{root}: variable {name} has no type"
    for name, body in outputs.items():
        assert body.get("description"), f"{root}: output {name} has no description"


@pytest.mark.parametrize("module", MODULES)
def test_module_pins_terraform_and_the_aws_provider(module: str) -> None:
    versions = load_module(TERRAFORM_DIR / "modules" / module)["terraform"][0]
    assert versions["required_version"].startswith(">= 1.")
    aws = (
        versions["required_providers"][0]["aws"]
        if isinstance(versions["required_providers"], list)
        else versions["required_providers"]["aws"]
    )
    assert aws["source"] == "hashicorp/aws"
    assert "<" in aws["version"], "an upper bound keeps a major provider release from surprising us"


def test_storage_and_events_have_validated_inputs(modules: dict[str, Any]) -> None:
    for name in ("storage", "events", "cluster", "streaming", "auth"):
        variables = {n: b for block in modules[name]["variable"] for n, b in block.items()}
        validated = [n for n, b in variables.items() if b.get("validation")]
        assert len(validated) >= len(variables) // 2, f"{name}: few validated inputs ({validated})"


# -- the event chain ------------------------------------------------------------------------------


def test_key_layout_matches_the_code_contract(modules: dict[str, Any]) -> None:
    storage = locals_of(modules["storage"])
    assert storage["incoming_prefix"] == INCOMING_PREFIX
    assert storage["results_prefix"] == RESULTS_PREFIX
    assert storage["shadow_prefix"] == SHADOW_PREFIX


def test_rule_matches_object_created_in_the_uploads_bucket_under_incoming(
    modules: dict[str, Any],
) -> None:
    events = modules["events"]
    pattern = locals_of(events)["event_pattern"]
    assert pattern["source"] == ["aws.s3"]
    assert pattern["detail-type"] == ["Object Created"]
    assert pattern["detail"]["bucket"]["name"] == ["${var.uploads_bucket_name}"]
    assert pattern["detail"]["object"]["key"] == [{"prefix": "${var.incoming_prefix}"}]
    rule = resources(events, "aws_cloudwatch_event_rule")["object_created"]
    assert rule["event_pattern"] == "${jsonencode(local.event_pattern)}"
    # The default prefix and the one the examples wire in are the uploads prefix.
    variables = {n: b for block in events["variable"] for n, b in block.items()}
    assert variables["incoming_prefix"]["default"] == INCOMING_PREFIX
    for example in EXAMPLES:
        module_blocks = load_module(TERRAFORM_DIR / "examples" / example)["module"]
        calls = {n: b for block in module_blocks for n, b in block.items()}
        assert calls["events"]["uploads_bucket_name"] == "${module.storage.uploads_bucket_name}"
        assert calls["events"]["incoming_prefix"] == "${module.storage.incoming_prefix}"


def test_uploads_bucket_sends_its_events_to_eventbridge(modules: dict[str, Any]) -> None:
    notification = resources(modules["storage"], "aws_s3_bucket_notification")
    assert set(notification) == {"uploads"}
    assert notification["uploads"]["eventbridge"] is True
    assert notification["uploads"]["bucket"] == "${aws_s3_bucket.uploads.id}"


def test_queue_has_a_dead_letter_queue_and_room_to_process(modules: dict[str, Any]) -> None:
    events = modules["events"]
    queues = resources(events, "aws_sqs_queue")
    assert set(queues) == {"events", "dead_letters"}
    redrive = " ".join(queues["events"]["redrive_policy"].split())
    assert "deadLetterTargetArn = aws_sqs_queue.dead_letters.arn" in redrive
    assert "maxReceiveCount = var.max_receive_count" in redrive
    assert "redrive_policy" not in queues["dead_letters"]
    assert queues["events"]["visibility_timeout_seconds"] == "${local.visibility_timeout_seconds}"
    assert "3 * var.processing_timeout_seconds" in locals_of(events)["visibility_timeout_seconds"]
    # Events EventBridge cannot deliver land in the dead-letter queue too.
    target = resources(events, "aws_cloudwatch_event_target")["queue"]
    assert target["arn"] == "${aws_sqs_queue.events.arn}"
    assert target["dead_letter_config"][0]["arn"] == "${aws_sqs_queue.dead_letters.arn}"
    # Long polling: the consumer does not spin.
    assert queues["events"]["receive_wait_time_seconds"] == 20


def test_only_the_rule_may_send_to_the_queues_and_only_over_tls(modules: dict[str, Any]) -> None:
    events = modules["events"]
    queues = resources(events, "aws_sqs_queue")
    for name, queue in queues.items():
        assert queue["policy"] == f'${{data.aws_iam_policy_document.queue["{name}"].json}}'
    document = data(events, "aws_iam_policy_document")["queue"]
    allows = [s for s in statements(document) if s["effect"] == "Allow"]
    assert len(allows) == 1
    (allow,) = allows
    assert allow["actions"] == ["sqs:SendMessage"]
    assert allow["principals"][0] == {"type": "Service", "identifiers": ["events.amazonaws.com"]}
    assert conditions(allow)["aws:SourceArn"] == (
        "ArnEquals",
        ["${aws_cloudwatch_event_rule.object_created.arn}"],
    )
    denies = [s for s in statements(document) if s["effect"] == "Deny"]
    assert any(conditions(s).get("aws:SecureTransport") == ("Bool", ["false"]) for s in denies)


# -- IRSA -----------------------------------------------------------------------------------------


def test_irsa_policies_are_scoped_to_key_prefixes(modules: dict[str, Any]) -> None:
    cluster_locals = locals_of(modules["cluster"])
    duties = cluster_locals["s3_duties"]
    prefix_locals = {"incoming", "results", "shadow", "shadow_reports", "models", "api_state"}
    for name, duty in duties.items():
        assert re.fullmatch(r"\$\{var\.storage\.\w+_bucket_arn\}", duty["bucket"]), name
        assert duty["prefixes"], name
        for prefix in duty["prefixes"]:
            match = re.fullmatch(r"\$\{local\.(\w+)\}", prefix)
            assert match and match[1] in prefix_locals, f"{name}: {prefix} is not a key prefix"
        assert set(duty["actions"]) <= S3_OBJECT_ACTIONS, f"{name}: {duty['actions']}"
        assert set(duty["kms"]) <= {"kms:Decrypt", "kms:GenerateDataKey"}, name
    for local_name in prefix_locals:
        assert cluster_locals[local_name] == f"${{var.storage.{local_name}_prefix}}"
    # The duties are what their names say.
    assert duties["delete_originals"]["actions"] == ["s3:DeleteObject"]
    assert duties["delete_originals"]["prefixes"] == ["${local.incoming}"]
    assert duties["write_results"]["prefixes"] == ["${local.results}"]
    assert duties["write_shadow"]["prefixes"] == ["${local.shadow}"]
    assert duties["read_models"]["prefixes"] == ["${local.models}"]
    assert duties["presign_uploads"] == {
        "bucket": "${var.storage.uploads_bucket_arn}",
        "list": False,
        "prefixes": ["${local.incoming}"],
        "actions": ["s3:PutObject"],
        "kms": ["kms:GenerateDataKey"],
    }
    # One document shape serves every duty: objects under the prefixes, listing under them,
    # the key only through S3.
    document = data(modules["cluster"], "aws_iam_policy_document")["s3_duty"]
    assert document["for_each"] == "${local.s3_duties}"
    (objects,) = statements(document)
    assert objects["resources"] == (
        '${[for prefix in each.value.prefixes : "${each.value.bucket}/${prefix}*"]}'
    )
    listing_block, kms_block = document["dynamic"]
    assert listing_block["statement"]["for_each"] == "${each.value.list ? [each.value] : []}"
    (listing,) = listing_block["statement"]["content"]
    assert listing["actions"] == ["s3:ListBucket"]
    assert listing["resources"] == ["${statement.value.bucket}"]
    test, values = conditions(listing)["s3:prefix"]
    assert test == "StringLikeIfExists"
    assert values == '${[for prefix in statement.value.prefixes : "${prefix}*"]}'
    (kms,) = kms_block["statement"]["content"]
    assert kms["resources"] == ["${var.storage.kms_key_arn}"]
    assert conditions(kms)["kms:ViaService"] == ("StringEquals", ["${local.s3_via}"])


def test_each_role_has_exactly_its_duties(modules: dict[str, Any]) -> None:
    cluster_locals = locals_of(modules["cluster"])
    roles = cluster_locals["app_roles"]
    assert set(roles["inference"]["policies"]) == {
        "read_uploads",
        "write_results",
        "read_models",
        "delete_originals",
    }
    # The shadow writes only under shadow/ and never deletes an original.
    assert set(roles["shadow"]["policies"]) == {"read_uploads", "write_shadow", "read_models"}
    assert roles["event_source"]["policies"] == ["consume_queue"]
    # The API presigns uploads and reads results; it never reads originals.
    assert set(roles["api"]["policies"]) == {"presign_uploads", "read_results", "api_state"}
    assert roles["inference"]["subjects"] == ["${var.namespace}:${var.service_accounts.inference}"]
    assert "var.allow_delete_originals" in cluster_locals["roles"]
    for role in roles.values():
        assert role["managed"] == []
    queue = data(modules["cluster"], "aws_iam_policy_document")["consume_queue"]
    (consume,) = statements(queue)
    assert consume["resources"] == ["${var.queue.arn}"]
    assert "sqs:SendMessage" not in consume["actions"]


def test_irsa_trust_is_one_service_account_per_role(modules: dict[str, Any]) -> None:
    trust = data(modules["cluster"], "aws_iam_policy_document")["irsa_assume"]
    (statement,) = statements(trust)
    assert statement["actions"] == ["sts:AssumeRoleWithWebIdentity"]
    found = conditions(statement)
    assert found["${local.oidc_host}:aud"] == ("StringEquals", ["sts.amazonaws.com"])
    test, values = found["${local.oidc_host}:sub"]
    assert test == "StringEquals", "StringLike would let any service account matching a glob in"
    assert values == '${[for s in each.value.subjects : "system:serviceaccount:${s}"]}'


# -- nothing public, everything encrypted ---------------------------------------------------------


def all_policy_documents(modules: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for module_name, module in modules.items():
        for name, document in data(module, "aws_iam_policy_document").items():
            found.append((module_name, name, document))
    return found


def test_no_policy_allows_anyone(modules: dict[str, Any]) -> None:
    for module_name, name, document in all_policy_documents(modules):
        for statement in all_statements(document):
            if statement["effect"] != "Allow":
                continue
            for principal in statement.get("principals", []):
                assert "*" not in principal["identifiers"], f"{module_name}.{name} allows anyone"
                assert principal["type"] != "*", f"{module_name}.{name} allows anyone"


def test_every_bucket_is_private_encrypted_and_tls_only(modules: dict[str, Any]) -> None:
    storage = modules["storage"]
    buckets = resources(storage, "aws_s3_bucket")
    assert set(buckets) == {"uploads", "results", "models", "access_logs"}
    blocks = resources(storage, "aws_s3_bucket_public_access_block")
    ownership = resources(storage, "aws_s3_bucket_ownership_controls")
    encryption = resources(storage, "aws_s3_bucket_server_side_encryption_configuration")
    policies = resources(storage, "aws_s3_bucket_policy")
    for bucket, body in buckets.items():
        assert "acl" not in body
        block = blocks[bucket]
        for flag in (
            "block_public_acls",
            "block_public_policy",
            "ignore_public_acls",
            "restrict_public_buckets",
        ):
            assert block[flag] is True, f"{bucket}: {flag}"
        assert ownership[bucket]["rule"][0]["object_ownership"] == "BucketOwnerEnforced"
        rule = encryption[bucket]["rule"][0]
        default = rule["apply_server_side_encryption_by_default"][0]
        assert default == {
            "sse_algorithm": "aws:kms",
            "kms_master_key_id": "${aws_kms_key.this.arn}",
        }
        assert rule["bucket_key_enabled"] is True
        assert bucket in policies
        if bucket != "access_logs":
            assert (
                policies[bucket]["policy"]
                == f'${{data.aws_iam_policy_document.tls_only["{bucket}"].json}}'
            )
            assert policies[bucket]["count"] == "${var.enforce_tls ? 1 : 0}"
    variables = {n: b for block in storage["variable"] for n, b in block.items()}
    assert variables["enforce_tls"]["default"] is True
    documents = data(storage, "aws_iam_policy_document")
    denies = [s for s in statements(documents["tls_only"]) if s["effect"] == "Deny"]
    assert any(conditions(s).get("aws:SecureTransport") == ("Bool", ["false"]) for s in denies)
    log_tls = documents["access_logs"]["dynamic"][0]["statement"]
    assert log_tls["for_each"] == '${var.enforce_tls ? ["tls"] : []}'
    assert conditions(log_tls["content"][0])["aws:SecureTransport"] == ("Bool", ["false"])
    assert any(
        conditions(s).get("s3:TlsVersion") == ("NumericLessThan", ["1.2"])
        for s in statements(documents["tls_only"])
    )


def test_every_kms_key_rotates(modules: dict[str, Any]) -> None:
    keys = [
        (m, k) for m, module in modules.items() for k in resources(module, "aws_kms_key").values()
    ]
    assert len(keys) >= 3
    for module_name, key in keys:
        assert key["enable_key_rotation"] is True, module_name
        assert key["policy"].startswith("${data.aws_iam_policy_document.kms"), module_name


def test_originals_expire_results_tier_models_are_versioned(modules: dict[str, Any]) -> None:
    storage = modules["storage"]
    lifecycle = resources(storage, "aws_s3_bucket_lifecycle_configuration")
    uploads = {r["id"]: r for r in lifecycle["uploads"]["rule"]}
    expire = uploads["expire-originals"]
    assert expire["filter"][0]["prefix"] == "${local.incoming_prefix}"
    assert expire["expiration"][0]["days"] == "${var.uploads_expiration_days}"
    variables = {n: b for block in storage["variable"] for n, b in block.items()}
    assert variables["uploads_expiration_days"]["default"] == 1
    results = {r["id"]: r for r in lifecycle["results"]["rule"]}
    classes = [t["storage_class"] for t in results["tier-results"]["transition"]]
    assert classes == ["STANDARD_IA", "GLACIER_IR"]
    assert results["expire-shadow-results"]["filter"][0]["prefix"] == "${local.shadow_prefix}"
    versioning = resources(storage, "aws_s3_bucket_versioning")
    assert set(versioning) == {"models"}, "uploads must not be versioned (GDPR deletion)"
    assert versioning["models"]["versioning_configuration"][0]["status"] == "Enabled"
    cors = resources(storage, "aws_s3_bucket_cors_configuration")
    assert cors["uploads"]["cors_rule"][0]["allowed_methods"] == ["PUT", "POST"]
    assert cors["uploads"]["cors_rule"][0]["allowed_origins"] == "${var.cors_allowed_origins}"


def test_msk_and_eks_are_not_reachable_from_the_internet(modules: dict[str, Any]) -> None:
    msk = resources(modules["streaming"], "aws_msk_cluster")["this"]
    broker = msk["broker_node_group_info"][0]
    assert broker["connectivity_info"][0]["public_access"][0]["type"] == "DISABLED"
    assert msk["client_authentication"][0]["unauthenticated"] is False
    assert msk["client_authentication"][0]["sasl"][0]["iam"] is True
    transit = msk["encryption_info"][0]["encryption_in_transit"][0]
    assert transit == {"client_broker": "TLS", "in_cluster": True}
    ingress = resources(modules["streaming"], "aws_vpc_security_group_ingress_rule")
    for rule in ingress.values():
        assert "cidr_ipv4" not in rule and "cidr_ipv6" not in rule
        assert rule["referenced_security_group_id"].startswith("${var.client_security_group_ids")
    # Kafka over IAM/TLS, and (issue 12 #14) MSK's open-monitoring exporters for Prometheus in the
    # cluster: JMX exporter 11001, node exporter 11002 (Amazon MSK developer guide, "Open
    # monitoring with Prometheus"); the module turns open monitoring on, so the ports must open.
    ports = {(r["from_port"], r["to_port"]) for r in ingress.values()}
    assert ports == {(9098, 9098), (11001, 11002)}
    eks = resources(modules["cluster"], "aws_eks_cluster")["this"]
    assert eks["vpc_config"][0]["endpoint_public_access"] == "${var.endpoint_public_access}"
    cluster_variables = {n: b for block in modules["cluster"]["variable"] for n, b in block.items()}
    assert cluster_variables["endpoint_public_access"]["default"] is False
    assert eks["encryption_config"][0]["resources"] == ["secrets"]
    assert eks["access_config"][0]["bootstrap_cluster_creator_admin_permissions"] is False


# -- chart values ---------------------------------------------------------------------------------


def chart_aws_keys() -> set[str]:
    schema_path = REPO / "charts" / "siteveil" / "values.schema.json"
    if not schema_path.is_file():
        pytest.skip("SKIPPED: charts/siteveil/values.schema.json is absent; nothing to match")
    schema = json.loads(schema_path.read_text())
    return set(schema["properties"]["aws"]["properties"])


def test_complete_example_fills_every_chart_aws_key() -> None:
    chart_keys = chart_aws_keys()
    example = locals_of(load_module(TERRAFORM_DIR / "examples" / "complete"))
    ours = set(example["helm_aws"])
    assert ours <= chart_keys, f"keys the chart does not know: {ours - chart_keys}"
    # mskRoleArn stays empty on purpose: Knative's Kafka pods use their own IRSA role.
    assert chart_keys - ours == {"mskRoleArn"}


def test_local_example_values_are_chart_keys() -> None:
    chart_keys = chart_aws_keys()
    example = locals_of(load_module(TERRAFORM_DIR / "examples" / "local"))
    assert set(example["helm_aws"]) <= chart_keys


def _helm_install_commands(text: str) -> list[str]:
    """Each `helm upgrade --install` / `helm install` command, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", text)
    return [
        line.strip()
        for line in joined.splitlines()
        if re.search(r"helm(\s+upgrade\s+--install|\s+install)\s", line)
    ]


def test_every_documented_install_goes_to_the_namespace_the_roles_trust() -> None:
    """The IRSA roles trust `system:serviceaccount:<namespace>:<sa>` only (modules/cluster, var
    `namespace`): a release installed without `--namespace` gets no AWS credentials at all."""
    sources = [
        TERRAFORM_DIR / "README.md",
        TERRAFORM_DIR.parent / "mk" / "terraform.mk",
        TERRAFORM_DIR.parent / "charts" / "siteveil" / "README.md",
    ]
    commands = [(path, c) for path in sources for c in _helm_install_commands(path.read_text())]
    assert len(commands) >= 3, commands
    for path, command in commands:
        assert re.search(r"(--namespace|-n)[ =]\S", command), f"{path.name}: {command}"


# Issue 12 #13: Karpenter's controller permissions as the reference CloudFormation template grants
# them (aws/karpenter-provider-aws, website/content/en/preview/getting-started/
# getting-started-with-karpenter/cloudformation.yaml, commit 1d927085d): without these, 1.7+
# controllers fail to list instance profiles, and launches into placement groups are refused.
KARPENTER_REFERENCE_ACTIONS = {
    "iam:ListInstanceProfiles",
    "ec2:DescribeInstanceStatus",
    "ec2:DescribePlacementGroups",
    "ec2:RunInstances",
    "ec2:CreateFleet",
    "eks:DescribeCluster",
    "pricing:GetProducts",
    "ssm:GetParameter",
}


def test_karpenter_has_the_reference_permissions_in_documents_under_the_size_limit(
    modules: dict[str, Any],
) -> None:
    docs = {
        name: doc
        for name, doc in data(modules["cluster"], "aws_iam_policy_document").items()
        if name.startswith("karpenter_") and name != "karpenter_interruption"
    }
    assert set(docs) == {"karpenter_controller", "karpenter_discovery"}, "split in two"
    granted = {a for doc in docs.values() for s in statements(doc) for a in s["actions"]}
    assert KARPENTER_REFERENCE_ACTIONS <= granted, KARPENTER_REFERENCE_ACTIONS - granted
    launch = next(
        s for s in statements(docs["karpenter_controller"])
        if s["sid"] == "AllowScopedEC2InstanceAccessActions"
    )  # fmt: skip
    assert any("placement-group/*" in r for r in launch["resources"])
    # IAM managed policies hold at most 6,144 characters (whitespace excluded); the HCL of each
    # document, a rough upper bound of its JSON, stays well below.
    for name, doc in docs.items():
        assert len(json.dumps(doc, separators=(",", ":"))) < 6144, name


def test_eventbridge_may_use_the_queue_key_only_for_this_deployments_rules(
    modules: dict[str, Any],
) -> None:
    """Amazon SQS Developer Guide, "Key management" > "Configure AWS KMS permissions with confused
    deputy protection" (sqs-key-management.html): with SSE-enabled queues CloudWatch Events
    (EventBridge) supports `aws:SourceArn`; `aws:SourceAccount` where the ARN is unknown. The
    events module's rule is "<name>-object-created", so the key policy's pattern must match it."""
    document = data(modules["storage"], "aws_iam_policy_document")["kms"]
    (statement,) = [
        s for s in statements(document) if s.get("sid") == "EventBridgeSendsToTheEncryptedQueue"
    ]
    assert statement["principals"][0] == {
        "type": "Service",
        "identifiers": ["events.amazonaws.com"],
    }
    assert sorted(statement["actions"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    test, (pattern,) = conditions(statement)["aws:SourceArn"]
    assert test == "ArnLike"
    assert pattern.endswith(":rule/${var.name}-*") and ":events:" in pattern
    assert conditions(statement)["aws:SourceAccount"] == ("StringEquals", ["${local.account_id}"])
    rule = resources(modules["events"], "aws_cloudwatch_event_rule")["object_created"]
    assert rule["name"].startswith("${var.name}-")


def test_no_role_may_list_the_uploads_bucket(modules: dict[str, Any]) -> None:
    """Issue 12 #14c: `StringLikeIfExists s3:prefix` let a request without a prefix list every
    tenant's and image's key in the uploads bucket. Nothing needs a listing there: the
    transformer reads the one key its event names and takes the 403 S3 answers for a missing key
    without s3:ListBucket (Amazon S3 API Reference, GetObject, "Permissions") as "not found".
    The results and API-state buckets keep the listing under their prefixes (the API's
    "pending" and the transformer's duplicate check need 404s there)."""
    duties = locals_of(modules["cluster"])["s3_duties"]
    for name, duty in duties.items():
        on_uploads = duty["bucket"] == "${var.storage.uploads_bucket_arn}"
        assert duty["list"] is (not on_uploads), name
