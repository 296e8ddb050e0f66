"""template.yaml: the security and wiring invariants the stack relies on, checked offline.

The template is read with cfn-lint's decoder (it knows the CloudFormation short tags) and, for what SAM
generates (the schedule's role, event source mappings), transformed with the SAM translator with
placeholder code locations and no AWS call. cfn-lint runs through its Python API. checkov is too heavy
for this suite: infra/lint.sh (`make lint-infra`) runs it.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import pytest
from cfnlint.api import lint_file
from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
EVENTS = ROOT / "infra" / "events"

FUNCTIONS = {
    # logical id: (code dir, dependency layer, SQS queue or None for the scheduled one)
    "ConfigFunction": ("functions/config/", "LightDepsLayer", "ConfigQueue"),
    "BaselineFunction": ("functions/baseline/", "ArrowDepsLayer", "BaselineQueue"),
    "IngestFunction": ("functions/ingest/", "ArrowDepsLayer", "IngestQueue"),
    "LabelsFunction": ("functions/labels/", "ArrowDepsLayer", "LabelsQueue"),
    "EvaluateFunction": ("functions/evaluate/", "LightDepsLayer", None),
    "JudgeFunction": ("functions/judge/", "LightDepsLayer", "JudgeQueue"),
}
NOTIFICATIONS = {  # queue: S3 key filter rules
    "ConfigQueue": {"prefix": "models/", "suffix": "config.yaml"},
    "BaselineQueue": {"prefix": "baselines/"},
    "IngestQueue": {"prefix": "predictions/"},
    "LabelsQueue": {"prefix": "labels/"},
}
REQUIRED_ENVIRONMENT = {
    "DRIFTLINE_BUCKET",
    "DRIFTLINE_TABLE",
    "DRIFTLINE_TOPIC_ARN",
    "DRIFTLINE_METRICS_RETENTION_DAYS",
    "DRIFTLINE_ID_RETENTION_DAYS",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
}
# Allow statements that may name Resource "*", and why: X-Ray has no resource-level permissions.
RESOURCE_STAR_ACTIONS = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
BUCKET_NAME_SUB = "${AWS::StackName}-data-${AWS::AccountId}-${AWS::Region}"


# ------------------------------------------------------------------------------------------------ fixtures


def _plain(value: Any) -> Any:
    """cfn-lint's decoded nodes as plain dicts/lists/strs (they compare and copy like them anyway)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    decoded, errors = decode(str(TEMPLATE))
    assert not errors, [str(e) for e in errors]
    return _plain(decoded)


@pytest.fixture(scope="module")
def resources(template: dict[str, Any]) -> dict[str, Any]:
    return template["Resources"]


@pytest.fixture(scope="module")
def transformed(template: dict[str, Any]) -> dict[str, Any]:
    """The template after the SAM transform, offline (placeholder S3 code locations, no managed policies)."""
    translator = pytest.importorskip("samtranslator.translator.transform", reason="needs aws-sam-translator")

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    doc = copy.deepcopy(template)
    for logical_id, resource in doc["Resources"].items():
        props = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(props.get(key), str):
                props[key] = f"s3://artifacts/{logical_id}.zip"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        result: dict[str, Any] = translator.transform(doc, {}, NoManagedPolicies())
    return result


def _of_type(resources: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    return {lid: r for lid, r in resources.items() if r.get("Type") == rtype}


def _listify(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements(resources: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(resource, kind, statement) for every policy statement: kind is "identity" or "resource"."""
    for lid, res in resources.items():
        rtype, props = res.get("Type"), res.get("Properties", {})
        documents: list[tuple[str, Any]] = []
        if rtype == "AWS::IAM::Role":
            documents += [("identity", p["PolicyDocument"]) for p in props.get("Policies", [])]
        elif rtype in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents.append(("identity", props["PolicyDocument"]))
        elif rtype in ("AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy"):
            documents.append(("resource", props["PolicyDocument"]))
        elif rtype == "AWS::KMS::Key":
            documents.append(("key", props["KeyPolicy"]))
        for kind, document in documents:
            for statement in _listify(document["Statement"]):
                yield lid, kind, statement


def _deny_insecure_transport(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        s
        for s in statements
        if s["Effect"] == "Deny"
        and s.get("Principal") in ("*", {"AWS": "*"})
        and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") in ("false", False)
    ]


def _references(value: Any) -> set[str]:
    """Logical ids a template fragment depends on: Ref, Fn::GetAtt, and ${Name} / ${Name.Attr} in Fn::Sub."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.add(inner)
            elif key == "Fn::GetAtt":
                found.add(inner[0] if isinstance(inner, list) else str(inner).split(".")[0])
            elif key == "Fn::Sub":
                text = inner[0] if isinstance(inner, list) else inner
                found |= {m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text)}
                if isinstance(inner, list):
                    found |= _references(inner[1])
            else:
                found |= _references(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= _references(inner)
    return found


def _function_timeout(template: dict[str, Any], logical_id: str) -> int:
    props = template["Resources"][logical_id]["Properties"]
    return int(props.get("Timeout", template["Globals"]["Function"].get("Timeout", 3)))


@pytest.fixture(params=["raw", "transformed"])
def any_template(request: pytest.FixtureRequest, template: dict[str, Any]) -> dict[str, Any]:
    if request.param == "raw":
        return template
    result: dict[str, Any] = request.getfixturevalue("transformed")
    return result


# ------------------------------------------------------------------------------------------------ IAM


def test_no_allow_statement_grants_a_wildcard_action(any_template: dict[str, Any]) -> None:
    # Given every policy statement of the template, before and after the SAM transform
    offenders = []
    for lid, kind, statement in _statements(any_template["Resources"]):
        # When the statement allows something
        if statement["Effect"] != "Allow":
            continue
        assert "NotAction" not in statement, (lid, statement)
        assert "NotResource" not in statement, (lid, statement)
        # The key policy's administration statement (root, kms:*) is KMS's required default.
        if kind == "key" and statement.get("Sid") == "AccountAdministration":
            continue
        # Then no action is "*", "service:*" or any other pattern
        offenders += [(lid, a) for a in _listify(statement["Action"]) if "*" in a]
    assert offenders == []


def test_resource_star_only_where_the_service_has_no_resource_level_permissions(
    any_template: dict[str, Any],
) -> None:
    # Given every identity-policy Allow statement
    offenders = []
    for lid, kind, statement in _statements(any_template["Resources"]):
        if kind != "identity" or statement["Effect"] != "Allow":
            continue
        # When it names Resource "*"
        if "*" in _listify(statement["Resource"]):
            # Then its actions are in the justified allow-list (X-Ray)
            extra = set(_listify(statement["Action"])) - RESOURCE_STAR_ACTIONS
            if extra:
                offenders.append((lid, sorted(extra)))
    assert offenders == []


def test_resource_policies_allow_only_named_service_principals(any_template: dict[str, Any]) -> None:
    # Given the bucket, queue and topic policies
    for lid, kind, statement in _statements(any_template["Resources"]):
        if kind != "resource" or statement["Effect"] != "Allow":
            continue
        # Then an Allow names a service principal and is pinned to this account
        assert set(statement["Principal"]) == {"Service"}, (lid, statement)
        assert "aws:SourceAccount" in json.dumps(statement.get("Condition", {})), (lid, statement)


def test_roles_use_no_managed_policies(transformed: dict[str, Any]) -> None:
    # Given every role after the transform (ours and the one SAM makes for the schedule)
    roles = _of_type(transformed["Resources"], "AWS::IAM::Role")
    # Then none attaches a managed policy (AWSLambdaSQSQueueExecutionRole, for one, allows every queue)
    assert roles
    assert {lid: r["Properties"].get("ManagedPolicyArns") for lid, r in roles.items()} == dict.fromkeys(roles)


def test_each_function_has_its_own_role_scoped_to_its_prefixes(resources: dict[str, Any]) -> None:
    expected_reads = {
        "ConfigFunction": {"models/*"},
        "BaselineFunction": {"baselines/*", "_driftline/*"},
        "IngestFunction": {"predictions/*", "_driftline/*"},
        "LabelsFunction": {"labels/*", "_driftline/*"},
        "EvaluateFunction": set(),  # the dispatcher reads the table and queues models: no S3, no alerts
        "JudgeFunction": {"_driftline/*"},
    }
    for fn, prefixes in expected_reads.items():
        # Given the function's role
        role_ref = resources[fn]["Properties"]["Role"]
        assert role_ref == {"Fn::GetAtt": [f"{fn}Role", "Arn"]}
        statements = [s for lid, _k, s in _statements(resources) if lid == f"{fn}Role"]
        # When its S3 reads and writes are collected
        reads, writes = set(), set()
        for s in statements:
            for action in _listify(s["Action"]):
                for res in _listify(s["Resource"]):
                    sub = res.get("Fn::Sub", "") if isinstance(res, dict) else ""
                    if action == "s3:GetObject":
                        reads.add(sub.removeprefix("${DataBucket.Arn}/"))
                    if action == "s3:PutObject":
                        writes.add(sub.removeprefix("${DataBucket.Arn}/"))
        # Then it reads exactly its prefixes and writes nothing but _driftline/ (the data functions: only the
        # label join's packs, _driftline/ids/)
        assert reads == prefixes, fn
        assert writes <= {"_driftline/*", "_driftline/ids/*"}, fn
        if fn in ("IngestFunction", "LabelsFunction"):
            assert writes == {"_driftline/ids/*"}, fn
        # And it publishes only to the alerts topic
        publish = [s for s in statements if "sns:Publish" in _listify(s["Action"])]
        assert bool(publish) == (fn != "EvaluateFunction"), fn
        assert all(s["Resource"] == {"Ref": "AlertsTopic"} for s in publish), fn


def test_iam_actions_exist(resources: dict[str, Any]) -> None:
    # Given the DynamoDB actions granted. TransactWriteItems is an API, not an IAM action: a transaction is
    # authorized through the actions of its parts, and a grant of it is silently useless.
    actions = {a for _lid, _k, s in _statements(resources) for a in _listify(s["Action"])}
    assert "dynamodb:TransactWriteItems" not in actions


# ------------------------------------------------------------------------------------------------ storage


def test_bucket_is_private_encrypted_versioned_and_tls_only(resources: dict[str, Any]) -> None:
    # Given the data bucket and its policy
    bucket = resources["DataBucket"]["Properties"]
    policy = next(iter(_of_type(resources, "AWS::S3::BucketPolicy").values()))["Properties"]
    # Then its name is built with !Sub (stack names must be lowercase)
    assert bucket["BucketName"] == {"Fn::Sub": BUCKET_NAME_SUB}
    rule = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert rule["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    rules = bucket["LifecycleConfiguration"]["Rules"]
    assert any("NoncurrentVersionExpiration" in r and r["Status"] == "Enabled" for r in rules)
    # the label join's packs expire with the id retention (and their old versions a day later)
    (ids,) = [r for r in rules if r.get("Prefix") == "_driftline/ids/"]
    assert (
        ids["ExpirationInDays"] == {"Ref": "IdRetentionDays"}
        and ids["NoncurrentVersionExpiration"]["NoncurrentDays"] == 1
    )
    assert policy["Bucket"] == {"Ref": "DataBucket"}
    denies = _deny_insecure_transport(_listify(policy["PolicyDocument"]["Statement"]))
    assert denies, "the bucket policy must deny aws:SecureTransport=false"
    assert {"Fn::Sub": "${DataBucket.Arn}/*"} in _listify(denies[0]["Resource"])


def test_bucket_notifies_one_queue_per_user_prefix_and_nothing_for_driftline(resources: dict[str, Any]) -> None:
    # Given the bucket's queue notifications
    configs = resources["DataBucket"]["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    # When they are read as queue -> filter rules
    seen = {}
    for config in configs:
        assert config["Event"] == "s3:ObjectCreated:*"
        queue = config["Queue"]["Fn::GetAtt"][0]
        seen[queue] = {r["Name"]: r["Value"] for r in config["Filter"]["S3Key"]["Rules"]}
    # Then each user prefix goes to its queue, and _driftline/ (Driftline's own writes) to none
    assert seen == NOTIFICATIONS
    assert not any(f.get("prefix", "").startswith("_driftline") for f in seen.values())
    other = resources["DataBucket"]["Properties"]["NotificationConfiguration"]
    assert set(other) == {"QueueConfigurations"}


def test_queue_policies_name_the_bucket_by_sub_not_by_reference(resources: dict[str, Any]) -> None:
    # Given the policies of the notified queues (a !GetAtt/!Ref of the bucket here is a dependency cycle)
    policies = _of_type(resources, "AWS::SQS::QueuePolicy")
    expected_arn = {"Fn::Sub": "arn:${AWS::Partition}:s3:::" + BUCKET_NAME_SUB}
    for queue in NOTIFICATIONS:
        policy = next(p["Properties"] for p in policies.values() if p["Properties"]["Queues"] == [{"Ref": queue}])
        statements = _listify(policy["PolicyDocument"]["Statement"])
        allow = [s for s in statements if s["Effect"] == "Allow"]
        # Then S3 may send only from this bucket of this account, and non-TLS access is denied
        assert len(allow) == 1, queue
        assert allow[0]["Principal"] == {"Service": "s3.amazonaws.com"}
        assert allow[0]["Action"] == "sqs:SendMessage"
        assert allow[0]["Condition"]["ArnEquals"]["aws:SourceArn"] == expected_arn
        assert allow[0]["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
        assert _deny_insecure_transport(statements), queue
        assert "DataBucket" not in _references(policy), queue
    # And the bucket waits for them (S3 checks it may send when the notification is put)
    assert set(NOTIFICATIONS) <= {q.replace("Policy", "") for q in resources["DataBucket"]["DependsOn"]}


def test_table_keys_encryption_backups_and_ttl(resources: dict[str, Any]) -> None:
    # Given the metrics table
    table = resources["MetricsTable"]["Properties"]
    # Then it has the pk/sk keys, the gsi1 index, on-demand billing, SSE, PITR and TTL on expires_at
    assert table["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    types = {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]}
    assert types == {"pk": "S", "sk": "S", "gsi1pk": "S", "gsi1sk": "S"}
    (gsi,) = table["GlobalSecondaryIndexes"]
    assert gsi["IndexName"] == "gsi1"
    assert gsi["KeySchema"] == [
        {"AttributeName": "gsi1pk", "KeyType": "HASH"},
        {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
    ]
    assert gsi["Projection"] == {"ProjectionType": "ALL"}
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["SSESpecification"]["SSEEnabled"] is True
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_topics_are_encrypted_and_tls_only(resources: dict[str, Any]) -> None:
    # Given the two topics and their policies
    topics = _of_type(resources, "AWS::SNS::Topic")
    assert set(topics) == {"AlertsTopic", "OperationsTopic"}
    # Then the alerts topic uses the AWS managed SNS key
    assert topics["AlertsTopic"]["Properties"]["KmsMasterKeyId"] == "alias/aws/sns"
    # And the operations topic a rotated customer managed key that CloudWatch may use (it cannot use
    # alias/aws/sns, so alarms to a topic under that key would be lost)
    assert topics["OperationsTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "OperationsKey"}
    key = resources["OperationsKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    grants = [
        s
        for s in _listify(key["KeyPolicy"]["Statement"])
        if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert grants
    assert {"kms:Decrypt", "kms:GenerateDataKey"} <= set(_listify(grants[0]["Action"]))
    # And each topic denies publishing over plain HTTP
    for policy in _of_type(resources, "AWS::SNS::TopicPolicy").values():
        assert _deny_insecure_transport(_listify(policy["Properties"]["PolicyDocument"]["Statement"]))
    covered = {
        t["Ref"] for p in _of_type(resources, "AWS::SNS::TopicPolicy").values() for t in p["Properties"]["Topics"]
    }
    assert covered == set(topics)


def test_alert_email_subscription_is_optional(template: dict[str, Any], resources: dict[str, Any]) -> None:
    # Given the AlertEmail parameter, empty by default
    assert template["Parameters"]["AlertEmail"]["Default"] == ""
    # Then the e-mail subscription exists only under the condition that it is set
    subscriptions = {
        lid: r
        for lid, r in _of_type(resources, "AWS::SNS::Subscription").items()
        if r["Properties"]["TopicArn"] == {"Ref": "AlertsTopic"}
    }
    (subscription,) = subscriptions.values()
    assert subscription["Condition"] == "HasAlertEmail"
    assert template["Conditions"]["HasAlertEmail"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlertEmail"}, ""]}]}


# ------------------------------------------------------------------------------------------------ queues


def test_every_queue_is_encrypted_and_every_source_queue_has_a_dlq(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    queues = _of_type(resources, "AWS::SQS::Queue")
    dead_letter = {
        q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for q in queues.values()
        if "RedrivePolicy" in q["Properties"]
    }
    dead_letter.update(("EvaluateDeadLetterQueue", "RetrainingDeadLetterQueue"))  # a schedule's, a rule target's
    for lid, queue in queues.items():
        props = queue["Properties"]
        # Then every queue is encrypted at rest
        assert props.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in props, lid
        if lid in dead_letter:
            continue
        # And every queue that is not a DLQ redrives to one after 5 receives
        assert props["RedrivePolicy"]["maxReceiveCount"] == 5, lid
        assert props["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0] in queues, lid
    # And every DLQ keeps messages longer than the 4 days of its source (enqueue time is kept)
    for lid in dead_letter:
        assert queues[lid]["Properties"]["MessageRetentionPeriod"] > 345600, lid
    # And every queue denies non-TLS access
    covered = set()
    for policy in _of_type(resources, "AWS::SQS::QueuePolicy").values():
        if _deny_insecure_transport(_listify(policy["Properties"]["PolicyDocument"]["Statement"])):
            covered |= {q["Ref"] for q in policy["Properties"]["Queues"]}
    assert covered == set(queues)


def test_visibility_timeout_is_at_least_six_times_the_function_timeout(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    for fn, (_code, _layer, queue) in FUNCTIONS.items():
        if queue is None:
            continue
        # Given the consuming function's timeout
        timeout = _function_timeout(template, fn)
        # Then its queue hides an in-flight message for at least 6 x that (AWS guidance)
        assert resources[queue]["Properties"]["VisibilityTimeout"] >= 6 * timeout, queue


# ------------------------------------------------------------------------------------------------ functions


def test_functions_layers_events_and_environment(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    globals_fn = template["Globals"]["Function"]
    assert globals_fn["Runtime"] == "python3.12"
    assert globals_fn["Architectures"] == ["x86_64"]
    assert globals_fn["Tracing"] == "Active"
    for fn, (code, layer, queue) in FUNCTIONS.items():
        props = resources[fn]["Properties"]
        # Given each function: its code dir, handler, and exactly one dependency layer plus driftline's
        assert props["CodeUri"] == code
        assert (ROOT / code / "requirements.txt").is_file(), code
        assert props.get("Handler", globals_fn.get("Handler")) == "app.handler"
        assert props["Layers"] == [{"Ref": layer}, {"Ref": "DriftlineLayer"}], fn
        # And its own log group with a retention
        log_group = props["LoggingConfig"]["LogGroup"]["Ref"]
        assert resources[log_group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        # And the environment the runtime reads
        env = {**globals_fn["Environment"]["Variables"], **props["Environment"]["Variables"]}
        assert set(env) >= REQUIRED_ENVIRONMENT, fn
        assert env["POWERTOOLS_SERVICE_NAME"] == "driftline-" + code.split("/")[1]
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == "Driftline"
        if queue is None:
            continue
        # And an SQS source that reports partial batch failures
        (event,) = props["Events"].values()
        assert event["Type"] == "SQS"
        assert event["Properties"]["Queue"] == {"Fn::GetAtt": [queue, "Arn"]}
        assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert event["Properties"]["BatchSize"] == 10
        assert event["Properties"]["MaximumBatchingWindowInSeconds"] == 5
    assert resources["BaselineFunction"]["Properties"]["MemorySize"] == 2048
    assert _function_timeout(template, "BaselineFunction") == 900


def test_event_source_mappings_report_batch_item_failures(transformed: dict[str, Any]) -> None:
    # Given the event source mappings SAM generates
    mappings = _of_type(transformed["Resources"], "AWS::Lambda::EventSourceMapping")
    # Then there is one per SQS function, each reporting partial batch failures
    functions = {m["Properties"]["FunctionName"]["Ref"] for m in mappings.values()}
    assert functions == {fn for fn, (_c, _l, queue) in FUNCTIONS.items() if queue}
    for lid, mapping in mappings.items():
        assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"], lid


def test_evaluate_runs_on_a_named_schedule_with_retries_and_a_dlq(
    template: dict[str, Any], transformed: dict[str, Any]
) -> None:
    # Given the evaluate function's schedule
    props = template["Resources"]["EvaluateFunction"]["Properties"]
    (event,) = props["Events"].values()
    assert event["Type"] == "ScheduleV2"
    schedule = event["Properties"]
    # Then it has an explicit name, the parameter's expression, a retry policy and a DLQ
    assert schedule["Name"] == {"Fn::Sub": "${AWS::StackName}-evaluate"}
    assert schedule["ScheduleExpression"] == {"Ref": "EvaluateSchedule"}
    assert template["Parameters"]["EvaluateSchedule"]["Default"] == "rate(1 minute)"
    assert schedule["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    assert schedule["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["EvaluateDeadLetterQueue", "Arn"]}}
    # And failures after the invocation go to the same DLQ
    assert props["DeadLetterQueue"]["TargetArn"] == {"Fn::GetAtt": ["EvaluateDeadLetterQueue", "Arn"]}
    # And the generated scheduler role may invoke only that function
    (role,) = (
        r
        for lid, r in transformed["Resources"].items()
        if r["Type"] == "AWS::IAM::Role" and lid.startswith("EvaluateFunction") and lid != "EvaluateFunctionRole"
    )
    invoke = [
        s
        for p in role["Properties"]["Policies"]
        for s in _listify(p["PolicyDocument"]["Statement"])
        if "lambda:InvokeFunction" in _listify(s["Action"])
    ]
    assert invoke
    assert all(s["Resource"] == {"Fn::GetAtt": ["EvaluateFunction", "Arn"]} for s in invoke)


def test_layers_build_with_python312_and_ship_no_runtime_or_oversized_packages(resources: dict[str, Any]) -> None:
    layers = _of_type(resources, "AWS::Serverless::LayerVersion")
    assert set(layers) == {"DriftlineLayer", "ArrowDepsLayer", "LightDepsLayer"}
    assert layers["DriftlineLayer"]["Properties"]["ContentUri"] == "shared/"
    for lid, layer in layers.items():
        # Given each layer
        assert layer["Metadata"]["BuildMethod"] == "python3.12", lid
        assert layer["Properties"]["CompatibleRuntimes"] == ["python3.12"], lid
        if lid == "DriftlineLayer":
            continue
        # Then its requirements name neither what the runtime ships nor what does not fit
        requirements = ROOT / layer["Properties"]["ContentUri"] / "requirements.txt"
        names = {
            re.split(r"[<>=!~\[; ]", line.strip(), maxsplit=1)[0].lower()
            for line in requirements.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.lstrip().startswith("#")
        }
        assert not names & {"boto3", "botocore", "scipy", "pandas", "moto"}, lid
        assert {"numpy", "pyyaml", "aws-lambda-powertools", "aws-xray-sdk"} <= names, lid
        assert ("pyarrow" in names) == (lid == "ArrowDepsLayer"), lid


# ------------------------------------------------------------------------------------------------ alarms, outputs


def test_every_dlq_and_function_has_an_alarm_to_the_operations_topic(resources: dict[str, Any]) -> None:
    alarms = _of_type(resources, "AWS::CloudWatch::Alarm").values()
    watched = {}
    for alarm in alarms:
        props = alarm["Properties"]
        # Then every alarm notifies the operations topic, never the alerts topic (strict message format)
        assert props["AlarmActions"] == [{"Ref": "OperationsTopic"}]
        (dimension,) = props["Dimensions"]
        value = dimension["Value"]
        target = value["Fn::GetAtt"][0] if "Fn::GetAtt" in value else value["Ref"]
        watched[target] = props["MetricName"]
    dead_letter_queues = {lid for lid in _of_type(resources, "AWS::SQS::Queue") if "DeadLetter" in lid}
    assert {q: watched.get(q) for q in dead_letter_queues} == dict.fromkeys(
        dead_letter_queues, "ApproximateNumberOfMessagesVisible"
    )
    assert {f: watched.get(f) for f in FUNCTIONS} == dict.fromkeys(FUNCTIONS, "Errors")


def test_outputs(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]
    assert {"DataBucketName", "MetricsTableName", "AlertsTopicArn"} <= set(outputs)
    assert outputs["DataBucketName"]["Value"] == {"Ref": "DataBucket"}
    assert outputs["MetricsTableName"]["Value"] == {"Ref": "MetricsTable"}
    assert outputs["AlertsTopicArn"]["Value"] == {"Ref": "AlertsTopic"}


# ------------------------------------------------------------------------------------------------ linters


def _findings(path: Path) -> list[str]:
    return [
        f"{m.rule.id} {m.message} ({m.filename}:{m.linenumber})"
        for m in lint_file(path)
        if m.rule.severity in ("error", "warning")
    ]


def test_cfn_lint_finds_nothing() -> None:
    assert _findings(TEMPLATE) == []


def test_cfn_lint_finds_nothing_in_the_transformed_template(transformed: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "transformed.json"
    path.write_text(json.dumps(transformed), encoding="utf-8")
    assert _findings(path) == []


# ------------------------------------------------------------------------------------------------ sample events


def _sqs_s3_records(name: str) -> list[dict[str, Any]]:
    event = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    bodies = []
    for record in event["Records"]:
        assert record["eventSource"] == "aws:sqs"
        bodies.append(json.loads(record["body"]))  # S3 -> SQS: the body is the S3 event as a JSON string
    return bodies


@pytest.mark.parametrize(
    ("name", "prefix"),
    [
        ("config-sqs.json", "models/"),
        ("baseline-sqs.json", "baselines/"),
        ("ingest-sqs.json", "predictions/"),
        ("labels-sqs.json", "labels/"),
    ],
)
def test_sample_sqs_events_wrap_s3_notifications(name: str, prefix: str) -> None:
    for body in _sqs_s3_records(name):
        (s3_record,) = body["Records"]
        assert s3_record["eventName"].startswith("ObjectCreated:")
        key = unquote_plus(s3_record["s3"]["object"]["key"])  # real S3 URL-encodes keys ('=' -> %3D, ' ' -> +)
        assert key.startswith(prefix)


def test_sample_test_event_and_schedule_event() -> None:
    (body,) = _sqs_s3_records("s3-test-event-sqs.json")
    assert body["Event"] == "s3:TestEvent"
    assert "Records" not in body
    event = json.loads((EVENTS / "evaluate-schedule.json").read_text(encoding="utf-8"))
    decoded, _errors = decode(str(TEMPLATE))
    tick = decoded["Resources"]["EvaluateFunction"]["Properties"]["Events"]["EvaluateTick"]["Properties"]
    # The template's Input, its placeholders filled, has the sample's keys
    payload = re.sub(r"\$\{[^}]+\}|<aws\.scheduler\.[a-z-]+>", "x", str(tick["Input"]["Fn::Sub"]))
    assert set(json.loads(payload)) == set(event)
    assert event["detail-type"] == "Scheduled Event"


def test_the_local_cloud_gives_each_function_its_templates_timeout() -> None:
    """The local cloud's Lambda context counts down from the function's own Timeout (Globals merged), so the
    evaluator stops starting windows where it would in AWS (300 s), not at an arbitrary 900 s."""
    from pathlib import Path

    from driftline.cli.local.cloud import FunctionWiring, LambdaContext
    from driftline.cli.local.template import Stack, load_template

    stack = Stack(load_template(Path(__file__).resolve().parents[2] / "template.yaml"), name="s", region="us-east-1")
    timeouts = {f: float(stack.properties(f)["Timeout"]) for f in ("EvaluateFunction", "IngestFunction")}
    assert timeouts == {"EvaluateFunction": 300.0, "IngestFunction": 900.0}
    evaluate = FunctionWiring(
        "EvaluateFunction", "fn", Path("."), "app.handler", {}, timeout_s=timeouts["EvaluateFunction"]
    )
    left = LambdaContext(evaluate, "us-east-1").get_remaining_time_in_millis()
    assert 299_000 < left <= 300_000


def test_alerts_go_to_the_event_bus_with_put_events_on_that_bus_only(template: dict[str, Any]) -> None:
    # Given the bus parameter (the account's default bus unless named) and its output
    assert template["Parameters"]["EventBusName"]["Default"] == "default"
    assert template["Outputs"]["EventBusName"]["Value"] == {"Ref": "EventBusName"}
    assert template["Globals"]["Function"]["Environment"]["Variables"]["DRIFTLINE_EVENT_BUS"] == {"Ref": "EventBusName"}
    # Then every role that publishes alerts may put events on that bus, and no statement allows more
    bus_arn = {"Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/${EventBusName}"}
    by_role: dict[str, list[dict[str, Any]]] = {}
    for lid, kind, statement in _statements(template["Resources"]):
        if kind == "identity":
            by_role.setdefault(lid, []).append(statement)
    publishers = [lid for lid, st in by_role.items() if any("sns:Publish" in _listify(x["Action"]) for x in st)]
    assert len(publishers) == 5
    for lid, statements in by_role.items():
        puts = [x for x in statements if any(str(a).startswith("events:") for a in _listify(x["Action"]))]
        want = [("events:PutEvents", bus_arn)] if lid in publishers else []
        assert [(x["Action"], x["Resource"]) for x in puts] == want, lid


def test_the_retraining_rule_exists_only_with_a_target_and_sends_critical_alarms(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    retraining = {lid: r for lid, r in resources.items() if lid.startswith("Retraining")}
    # Then every retraining resource is conditional on the parameter
    assert set(retraining) >= {"RetrainingRule", "RetrainingInvokeRole", "RetrainingDeadLetterQueue"}
    assert all(r.get("Condition", "").startswith(("HasRetraining", "RetrainingTargetIs")) for r in retraining.values())
    rule = retraining["RetrainingRule"]["Properties"]
    # And the rule matches critical ALARMs from driftline, on the stack's bus, with a dead-letter queue
    assert rule["EventBusName"] == {"Ref": "EventBusName"}
    assert rule["EventPattern"] == {
        "source": ["driftline"],
        "detail-type": ["Driftline Alert"],
        "detail": {"state": ["ALARM"], "severity": ["critical"]},
    }
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Ref": "RetrainingTargetArn"}
    assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["RetrainingDeadLetterQueue", "Arn"]}
    # And the invoke role may start that state machine only
    (policy,) = retraining["RetrainingInvokeRole"]["Properties"]["Policies"]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Action"] == "states:StartExecution" and statement["Resource"] == {"Ref": "RetrainingTargetArn"}


def test_sample_judge_event_carries_evaluate_messages() -> None:
    from driftline.services.dispatch import parse_evaluate_message

    event = json.loads((EVENTS / "judge-sqs.json").read_text(encoding="utf-8"))
    assert [parse_evaluate_message(r["body"])[0] for r in event["Records"]] == ["churn-v3", "fraud-v1"]
