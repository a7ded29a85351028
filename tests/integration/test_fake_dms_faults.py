"""Tests of tests/fakes/fake_dms.py refusing and breaking requests, driven by
botocore's own DMS client: SigV4 authentication, protocol and input
validation, and injected faults (rates, seeds, scripts, side effects).

Run: /usr/bin/python3 -m pytest -q tests/integration/test_fake_dms_faults.py
Its fixtures and helpers live in fake_dms_util.py; it talks to 127.0.0.1 only.
"""

import datetime

import pytest

botocore = pytest.importorskip("botocore")
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError  # noqa: E402

from fake_dms_util import (  # noqa: E402,F401 (*_fixture: the fake and dms fixtures)
    build_stack, dms_fixture, err_code, fake_fixture, make_client, mappings, raw_call)


# --------------------------------------------------------------------------
# authentication


def test_signature_wrong_secret(fake):
    bad = make_client(fake, secret="not-the-secret")
    with pytest.raises(ClientError) as ei:
        bad.describe_account_attributes()
    assert err_code(ei) == "InvalidSignatureException"
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    unknown = make_client(fake, access="AKIDUNKNOWN")
    with pytest.raises(ClientError) as ei:
        unknown.describe_account_attributes()
    assert err_code(ei) == "UnrecognizedClientException"
    wrong_region = make_client(fake, region="eu-west-1")
    with pytest.raises(ClientError) as ei:
        wrong_region.describe_account_attributes()
    assert err_code(ei) == "InvalidSignatureException"
    # a failed signature has no side effect
    with pytest.raises(ClientError):
        bad.create_replication_instance(ReplicationInstanceIdentifier="x1", ReplicationInstanceClass="dms.t3.micro")
    stats = fake.stats()
    assert stats["signature_failures"] == 4
    assert stats["signature_failures_by_reason"] == {"InvalidSignatureException": 3,
                                                     "UnrecognizedClientException": 1}
    assert stats["creates"]["ReplicationInstanceIdentifier"] == {}
    assert make_client(fake).describe_account_attributes()["AccountQuotas"]


def test_signature_raw_cases(fake):
    target = "AmazonDMSv20160101.DescribeAccountAttributes"
    status, body, _ = raw_call(fake, target, {})
    assert status == 200 and body["AccountQuotas"]
    # no Authorization at all
    status, body, _ = raw_call(fake, target, {}, sign=False)
    assert (status, body["__type"]) == (403, "MissingAuthenticationTokenException")
    # X-Amz-Date 20 minutes old
    old = (datetime.datetime.utcnow() - datetime.timedelta(minutes=20)).strftime("%Y%m%dT%H%M%SZ")
    status, body, _ = raw_call(fake, target, {}, amz_date=old)
    assert (status, body["__type"]) == (403, "InvalidSignatureException")
    assert "Signature expired" in body["message"]
    # 10 minutes old is within the 15 minute window
    ok = (datetime.datetime.utcnow() - datetime.timedelta(minutes=10)).strftime("%Y%m%dT%H%M%SZ")
    assert raw_call(fake, target, {}, amz_date=ok)[0] == 200
    # body changed after signing
    status, body, _ = raw_call(fake, "AmazonDMSv20160101.DescribeReplicationTasks", {"MaxRecords": 20},
                               tamper=lambda h, d: (h, b'{"MaxRecords": 21}'))
    assert (status, body["__type"]) == (403, "InvalidSignatureException")

    # a signed header changed after signing (the operation)
    def swap_target(h, d):
        return dict(h, **{"X-Amz-Target": "AmazonDMSv20160101.DescribeEndpoints"}), d
    status, body, _ = raw_call(fake, target, {}, tamper=swap_target)
    assert (status, body["__type"]) == (403, "InvalidSignatureException")
    # wrong service in the scope
    status, body, _ = raw_call(fake, target, {}, service="rds")
    assert (status, body["__type"]) == (403, "InvalidSignatureException")
    assert fake.stats()["signature_failures"] == 5


def test_session_token(fake):
    fake.set_credentials([{"access_key": "ASIAFAKE", "secret_key": "tmp-secret", "session_token": "tok-123"}])
    good = make_client(fake, access="ASIAFAKE", secret="tmp-secret", token="tok-123")
    assert good.describe_account_attributes()["AccountQuotas"]
    for tok in (None, "tok-999"):
        c = make_client(fake, access="ASIAFAKE", secret="tmp-secret", token=tok)
        with pytest.raises(ClientError) as ei:
            c.describe_account_attributes()
        assert err_code(ei) == "UnrecognizedClientException"
    # the token must be signed
    status, body, _ = raw_call(fake, "AmazonDMSv20160101.DescribeAccountAttributes", {}, access="ASIAFAKE",
                               secret="tmp-secret", token="tok-123")
    assert status == 200
    assert fake.stats()["signature_failures"] == 2


# --------------------------------------------------------------------------
# protocol and input validation


@pytest.mark.parametrize("op,body,etype,needle", [
    ("DescribeReplicationTasks", {"MaxRecords": "twenty"}, "SerializationException", "MaxRecords"),
    ("DescribeReplicationTasks", {"MaxRecords": 20.5}, "SerializationException", "MaxRecords"),
    ("DescribeReplicationTasks", {"WithoutSettings": "yes"}, "SerializationException", "WithoutSettings"),
    ("DescribeReplicationTasks", {"Filters": {"Name": "x"}}, "SerializationException", "Filters"),
    ("DescribeReplicationTasks", {"Filters": [{"Name": "replication-task-id"}]},
     "InvalidParameterValueException", "Values"),
    ("StartReplicationTask", {"StartReplicationTaskType": "start-replication"},
     "InvalidParameterValueException", "ReplicationTaskArn must be provided"),
    ("StartReplicationTask", {"ReplicationTaskArn": "arn:x", "StartReplicationTaskType": "go"},
     "InvalidParameterValueException", "start-replication"),
    ("StartReplicationTask", {"ReplicationTaskArn": "arn:x", "StartReplicationTaskType": "start-replication",
                              "CdcStartTime": "2024-01-01T00:00:00Z"}, "SerializationException", "CdcStartTime"),
    ("StopReplicationTask", {"ReplicationTaskArn": "  "}, "InvalidParameterValueException", "must not be blank"),
    ("CreateReplicationInstance", {"ReplicationInstanceIdentifier": "a", "ReplicationInstanceClass": "dms.t3.micro",
                                   "AllocatedStorage": True}, "SerializationException", "AllocatedStorage"),
    ("CreateReplicationInstance", {"ReplicationInstanceIdentifier": "a", "ReplicationInstanceClass": "dms.t3.micro",
                                   "Bogus": 1}, "InvalidParameterValueException", "Bogus"),
    ("CreateEndpoint", {"EndpointIdentifier": "e", "EndpointType": "source"},
     "InvalidParameterValueException", "EngineName"),
    ("CreateEndpoint", {"EndpointIdentifier": "e", "EndpointType": "sideways", "EngineName": "postgres"},
     "InvalidParameterValueException", "sideways"),
])
def test_validation_failures(fake, op, body, etype, needle):
    status, resp, http_resp = raw_call(fake, "AmazonDMSv20160101." + op, body)
    assert status == 400
    assert resp["__type"] == etype
    assert needle in resp["message"]
    assert http_resp.getheader("x-amzn-RequestId")
    stats = fake.stats()
    assert stats["validation_failures"] == 1
    assert stats["validation_failures_by_operation"] == {op: 1}
    assert stats["operations"][op]["ok"] == 0
    assert all(not v for v in stats["creates"].values())


def test_valid_epoch_timestamp_accepted(fake, dms):
    # JSON 1.1 timestamps are epoch numbers: botocore sends them that way
    with pytest.raises(ClientError) as ei:
        dms.start_replication_task(ReplicationTaskArn="arn:aws:dms:us-east-1:123456789012:task:X",
                                   StartReplicationTaskType="start-replication",
                                   CdcStartTime=datetime.datetime(2024, 1, 1))
    assert err_code(ei) == "ResourceNotFoundFault"
    assert fake.stats()["validation_failures"] == 0


def test_malformed_json_and_protocol(fake):
    target = "AmazonDMSv20160101.DescribeEndpoints"
    status, body, _ = raw_call(fake, target, b"{not json")
    assert (status, body["__type"]) == (400, "SerializationException")
    status, body, _ = raw_call(fake, target, b"[1, 2]")
    assert (status, body["__type"]) == (400, "SerializationException")
    status, body, _ = raw_call(fake, target, {}, content_type="application/json")
    assert (status, body["__type"]) == (400, "SerializationException")
    stats = fake.stats()
    assert stats["validation_failures"] == 2 and stats["protocol_errors"] == 1


def test_unknown_operations(fake):
    status, body, _ = raw_call(fake, "AmazonDMSv20160101.LaunchRocket", {})
    assert (status, body["__type"]) == (400, "UnknownOperationException")
    status, body, _ = raw_call(fake, "SomeOtherService.DescribeEndpoints", {})
    assert (status, body["__type"]) == (400, "UnknownOperationException")
    status, body, _ = raw_call(fake, None, {})
    assert (status, body["__type"]) == (400, "UnknownOperationException")
    # in the model, not implemented by the fake
    status, body, _ = raw_call(fake, "AmazonDMSv20160101.DescribeCertificates", {})
    assert (status, body["__type"]) == (400, "UnknownOperationException")
    assert "does not implement" in body["message"]
    stats = fake.stats()
    assert stats["unknown_operations"] == 3 and stats["unimplemented_operations"] == 1


def test_error_type_prefix(fake, dms):
    fake.configure({"error_type_prefix": "com.amazonaws.dms.v20160101#"})
    status, body, _ = raw_call(fake, "AmazonDMSv20160101.DescribeEndpoints", {})
    assert body["__type"] == "com.amazonaws.dms.v20160101#ResourceNotFoundFault"
    with pytest.raises(ClientError) as ei:  # botocore strips the prefix
        dms.describe_endpoints()
    assert err_code(ei) == "ResourceNotFoundFault"


# --------------------------------------------------------------------------
# fault injection


def test_fault_rates_bounded_and_counted(fake, dms):
    fake.set_faults(rate=0.3, modes=["throttle", "500", "drop"], seed=42)
    seen = {"throttle": 0, "500": 0, "drop": 0}
    ok = 0
    n = 300
    for _ in range(n):
        try:
            dms.describe_account_attributes()
            ok += 1
        except ClientError as e:
            code = e.response["Error"]["Code"]
            if code == "ThrottlingException":
                assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400
                seen["throttle"] += 1
            else:
                assert code == "InternalFailure"
                assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 500
                seen["500"] += 1
        except (ConnectionClosedError, EndpointConnectionError):
            seen["drop"] += 1
    faults = sum(seen.values())
    assert ok + faults == n
    assert 0.2 * n <= faults <= 0.4 * n, seen
    assert all(v > 0 for v in seen.values()), seen
    stats = fake.stats()
    assert stats["faults"]["total"] == faults
    assert stats["faults"]["by_mode"] == {k: v for k, v in seen.items() if v}
    assert stats["operations"]["DescribeAccountAttributes"]["requests"] == n  # no retries happened
    assert stats["operations"]["DescribeAccountAttributes"]["ok"] == ok


def test_fault_rate_is_reproducible_with_seed(fake, dms):
    def run():
        fake.reset()
        fake.set_faults(rate=0.5, modes=["throttle"], seed=7)
        out = []
        for _ in range(40):
            try:
                dms.describe_account_attributes()
                out.append(0)
            except ClientError:
                out.append(1)
        return out
    a, b = run(), run()
    assert a == b and 5 < sum(a) < 35


@pytest.mark.parametrize("mode", ["throttle", "500", "drop", "reset", "hang"])
def test_faulted_create_has_no_side_effect(fake, dms, mode):
    ri, src, dst = build_stack(fake, dms)
    fake.set_faults(hang_seconds=0.2)
    fake.queue_faults([{"fault": mode, "operation": "CreateReplicationTask"}])
    kw = dict(ReplicationTaskIdentifier="once", SourceEndpointArn=src, TargetEndpointArn=dst,
              ReplicationInstanceArn=ri, MigrationType="full-load", TableMappings=mappings(("HR", "%", "include")))
    dms.describe_account_attributes()  # the scripted fault waits for its operation
    with pytest.raises((ClientError, ConnectionClosedError, EndpointConnectionError)):
        dms.create_replication_task(**kw)
    with pytest.raises(ClientError) as ei:
        dms.describe_replication_tasks(Filters=[{"Name": "replication-task-id", "Values": ["once"]}])
    assert err_code(ei) == "ResourceNotFoundFault"
    assert fake.creates("ReplicationTaskIdentifier", "once") == 0
    assert fake.stats()["create_attempts"]["ReplicationTaskIdentifier"] == {}
    dms.create_replication_task(**kw)
    assert fake.creates("ReplicationTaskIdentifier", "once") == 1
    assert fake.stats()["faults"]["by_mode"] == {mode: 1}


def test_random_faults_side_effect_free_creates(fake, dms):
    """A retry loop under 50% faults still creates each resource exactly once."""
    fake.set_faults(rate=0.5, modes=["throttle", "500", "drop"], seed=3,
                    operations=["CreateReplicationInstance", "CreateEndpoint"])
    created = []
    for i in range(10):
        ident = f"ri-r{i}"
        for _ in range(50):
            try:
                dms.create_replication_instance(ReplicationInstanceIdentifier=ident,
                                                ReplicationInstanceClass="dms.t3.micro")
                created.append(ident)
                break
            except ClientError as e:
                assert e.response["Error"]["Code"] in ("ThrottlingException", "InternalFailure")
            except (ConnectionClosedError, EndpointConnectionError):
                pass
    assert len(created) == 10
    stats = fake.stats()
    assert stats["creates"]["ReplicationInstanceIdentifier"] == {f"ri-r{i}": 1 for i in range(10)}
    assert stats["faults"]["total"] > 0
    assert set(stats["faults"]["by_operation"]) == {"CreateReplicationInstance"}


def test_drop_after_commit_needs_lookup(fake, dms):
    """drop-after-commit: the create happens, the answer is lost; a retry sees
    ResourceAlreadyExistsFault carrying the ARN."""
    fake.queue_faults(["drop-after-commit"])
    with pytest.raises((ConnectionClosedError, EndpointConnectionError)):
        dms.create_replication_instance(ReplicationInstanceIdentifier="ri-lost",
                                        ReplicationInstanceClass="dms.t3.micro")
    with pytest.raises(ClientError) as ei:
        dms.create_replication_instance(ReplicationInstanceIdentifier="ri-lost",
                                        ReplicationInstanceClass="dms.t3.micro")
    assert err_code(ei) == "ResourceAlreadyExistsFault"
    found = dms.describe_replication_instances(
        Filters=[{"Name": "replication-instance-id", "Values": ["ri-lost"]}])["ReplicationInstances"]
    assert len(found) == 1
    assert fake.creates("ReplicationInstanceIdentifier", "ri-lost") == 1
    assert fake.stats()["faults"]["by_mode"] == {"drop-after-commit": 1}


def test_max_faults_cap(fake, dms):
    fake.set_faults(rate=1.0, modes=["throttle"], max_faults=3)
    results = []
    for _ in range(6):
        try:
            dms.describe_account_attributes()
            results.append("ok")
        except ClientError:
            results.append("fault")
    assert results == ["fault"] * 3 + ["ok"] * 3


def test_botocore_retries_through_throttling(fake):
    """With its default retry policy botocore rides out scripted throttles."""
    fake.queue_faults(["throttle", "throttle"])
    c = make_client(fake, config=Config(retries={"total_max_attempts": 4, "mode": "standard"}))
    assert c.describe_account_attributes()["AccountQuotas"]
    assert fake.stats()["operations"]["DescribeAccountAttributes"]["requests"] == 3
