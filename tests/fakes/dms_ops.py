"""dms_ops: the fake DMS's operation handlers for the account, replication
instances, endpoints, connection tests and schema refreshes, with the helpers
every handler shares (paging, filters, lookups, create counters).

Part of the fake DMS (entry point: tests/fakes/fake_dms.py); the replication
task operations are in dms_task_ops.  A handler is OpsMixin._op_<Operation>(
params, now): it runs under FakeDMS._lock after validation, returns the output
document or raises DmsError.
"""

import base64
import copy
import json
import re

from dms_model import DmsError
from dms_state import ENGINE_DISPLAY, ENGINE_SETTINGS_KEY, Endpoint, Instance

CREATE_IDENTIFIERS = {
    "CreateReplicationInstance": "ReplicationInstanceIdentifier",
    "CreateEndpoint": "EndpointIdentifier",
    "CreateReplicationTask": "ReplicationTaskIdentifier",
}

# Engines whose endpoints need server/user/database when no secret is referenced.
DB_ENGINES = {"oracle", "postgres", "aurora-postgresql", "mysql", "aurora", "mariadb", "sqlserver", "sybase", "db2"}


def _merge(base, over):
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


_IDENT_RX = re.compile(r"^[A-Za-z](?:[A-Za-z0-9]|-(?!-))*$")


def _check_identifier(kind, value, max_len):
    if not value or len(value) > max_len or not _IDENT_RX.match(value) or value.endswith("-"):
        raise DmsError(
            "InvalidParameterValueException",
            f"The parameter {kind} is not a valid identifier. Identifiers must begin with a letter; "
            f"must contain only ASCII letters, digits, and hyphens; and must not end with a hyphen "
            f"or contain two consecutive hyphens (1-{max_len} characters).")


class OpsMixin:
    """FakeDMS's shared operation helpers and the non-task operations."""

    # ---------------------------------------------------------------- helpers for operations

    def _page(self, op, items, params, lo=20, hi=100, default=100):
        maxr = params.get("MaxRecords", default)
        if not lo <= maxr <= hi:
            raise DmsError("InvalidParameterValueException",
                           f"The value of MaxRecords must be between {lo} and {hi}, not {maxr}.")
        start = 0
        marker = params.get("Marker")
        if marker:
            try:
                doc = json.loads(base64.urlsafe_b64decode(marker.encode()).decode())
                if doc["op"] != op:
                    raise ValueError("marker of another operation")
                start = int(doc["o"])
                if start < 0:
                    raise ValueError("negative offset")
            except (ValueError, KeyError, TypeError):
                raise DmsError("InvalidParameterValueException", f"Invalid Marker: {marker}")
        page = items[start:start + maxr]
        nxt = None
        if start + maxr < len(items):
            nxt = base64.urlsafe_b64encode(json.dumps({"op": op, "o": start + maxr}).encode()).decode()
        return page, nxt

    @staticmethod
    def _filters(params, allowed):
        out = []
        for f in params.get("Filters") or []:
            name = f["Name"]
            if name not in allowed:
                raise DmsError("InvalidParameterValueException",
                               f"Invalid filter name '{name}'. Valid names: {', '.join(sorted(allowed))}")
            out.append((allowed[name], f["Values"]))
        return out

    @staticmethod
    def _match(obj, filters):
        for getter, values in filters:
            got = getter(obj)
            got = got if isinstance(got, tuple) else (got,)
            if not any(g in values for g in got):
                return False
        return True

    def _instance(self, arn):
        i = self.instances.get(arn)
        if i is None:
            raise DmsError("ResourceNotFoundFault", f"Replication instance {arn} not found")
        return i

    def _endpoint(self, arn):
        e = self.endpoints.get(arn)
        if e is None:
            raise DmsError("ResourceNotFoundFault", f"Endpoint {arn} not found")
        return e

    def _task(self, arn):
        t = self.tasks.get(arn)
        if t is None:
            raise DmsError("ResourceNotFoundFault", f"Replication Task {arn} not found")
        return t

    def _count_create_attempt(self, op, ident):
        key = CREATE_IDENTIFIERS[op]
        d = self.counters["create_attempts"][key]
        d[ident] = d.get(ident, 0) + 1

    def _count_create(self, op, ident):
        key = CREATE_IDENTIFIERS[op]
        d = self.counters["creates"][key]
        d[ident] = d.get(ident, 0) + 1

    # ---------------------------------------------------------------- operations

    def _op_DescribeAccountAttributes(self, p, now):
        storage = sum(i.storage for i in self.instances.values())
        return {
            "AccountQuotas": [
                {"AccountQuotaName": "ReplicationInstances", "Used": len(self.instances), "Max": 60},
                {"AccountQuotaName": "AllocatedStorage", "Used": storage, "Max": 30000},
                {"AccountQuotaName": "Endpoints", "Used": len(self.endpoints), "Max": 1000},
                {"AccountQuotaName": "ReplicationSubnetGroups", "Used": 1, "Max": 60},
                {"AccountQuotaName": "SubnetsPerReplicationSubnetGroup", "Used": 2, "Max": 60},
                {"AccountQuotaName": "EventSubscriptions", "Used": 0, "Max": 60},
                {"AccountQuotaName": "ReplicationTasks", "Used": len(self.tasks), "Max": 600},
                {"AccountQuotaName": "Certificates", "Used": 0, "Max": 100},
            ],
            "UniqueAccountIdentifier": f"fake{self.account_id}",
        }

    # replication instances

    def _op_CreateReplicationInstance(self, p, now):
        ident = p["ReplicationInstanceIdentifier"].lower()
        self._count_create_attempt("CreateReplicationInstance", ident)
        _check_identifier("ReplicationInstanceIdentifier", ident, 63)
        if not p["ReplicationInstanceClass"].startswith("dms."):
            raise DmsError("InvalidParameterValueException",
                           f"Invalid replication instance class {p['ReplicationInstanceClass']}")
        storage = p.get("AllocatedStorage", 50)
        if not 5 <= storage <= 6144:
            raise DmsError("InvalidParameterValueException", "AllocatedStorage must be between 5 and 6144 GB")
        for i in self.instances.values():
            if i.ident == ident:
                raise DmsError("ResourceAlreadyExistsFault",
                               f"Replication instance with identifier {ident} already exists",
                               resourceArn=i.arn)
        inst = Instance(ident, self._new_arn("rep"), p, now, now + self.timings["instance_create"])
        self.instances[inst.arn] = inst
        self._count_create("CreateReplicationInstance", ident)
        return {"ReplicationInstance": self._instance_json(inst)}

    def _op_DescribeReplicationInstances(self, p, now):
        filters = self._filters(p, {
            "replication-instance-arn": lambda i: i.arn,
            "replication-instance-id": lambda i: i.ident,
            "replication-instance-class": lambda i: i.cls,
            "engine-version": lambda i: i.engine_version,
        })
        items = [i for i in self.instances.values() if self._match(i, filters)]
        if not items:
            raise DmsError("ResourceNotFoundFault", "No replication instance found matching provided filters")
        page, nxt = self._page("DescribeReplicationInstances", items, p)
        out = {"ReplicationInstances": [self._instance_json(i) for i in page]}
        if nxt:
            out["Marker"] = nxt
        return out

    def _op_DeleteReplicationInstance(self, p, now):
        inst = self._instance(p["ReplicationInstanceArn"])
        if inst.status != "available" and inst.status != "failed":
            raise DmsError("InvalidResourceStateFault",
                           f"Replication instance {inst.ident} is {inst.status}; it must be available to delete")
        users = [t.ident for t in self.tasks.values() if t.instance_arn == inst.arn]
        if users:
            raise DmsError("InvalidResourceStateFault",
                           f"Replication instance {inst.ident} still has replication tasks: {', '.join(users)}")
        inst.status = "deleting"
        inst.until = now + self.timings["instance_delete"]
        inst.next = "gone"
        return {"ReplicationInstance": self._instance_json(inst)}

    # endpoints

    def _check_endpoint_params(self, p):
        engine = p["EngineName"]
        if engine not in ENGINE_DISPLAY:
            raise DmsError("InvalidParameterValueException", f"Invalid engine name {engine}")
        if engine in DB_ENGINES:
            settings = p.get(ENGINE_SETTINGS_KEY[engine]) or {}
            uses_secret = bool(settings.get("SecretsManagerSecretId"))
            if not uses_secret:
                for key, label in (("ServerName", "serverName"), ("Username", "username"),
                                   ("DatabaseName", "databaseName")):
                    if engine in ("mysql", "aurora", "mariadb") and key == "DatabaseName":
                        continue
                    value = p.get(key) or settings.get(key)
                    if not value or not str(value).strip():
                        raise DmsError("InvalidParameterValueException",
                                       f"The parameter {label} must be provided and must not be blank.")
        port = p.get("Port")
        if port is not None and not 1 <= port <= 65535:
            raise DmsError("InvalidParameterValueException", f"Invalid port {port}")

    def _op_CreateEndpoint(self, p, now):
        ident = p["EndpointIdentifier"]
        self._count_create_attempt("CreateEndpoint", ident)
        _check_identifier("EndpointIdentifier", ident, 255)
        self._check_endpoint_params(p)
        for e in self.endpoints.values():
            if e.ident == ident:
                raise DmsError("ResourceAlreadyExistsFault", f"Endpoint with identifier {ident} already exists",
                               resourceArn=e.arn)
        params = {k: v for k, v in p.items() if k not in ("Tags", "ResourceIdentifier")}
        params["EndpointType"] = p["EndpointType"].lower()
        ep = Endpoint(ident, self._new_arn("endpoint"), params, now)
        self.endpoints[ep.arn] = ep
        self._count_create("CreateEndpoint", ident)
        return {"Endpoint": self._endpoint_json(ep)}

    def _op_DescribeEndpoints(self, p, now):
        filters = self._filters(p, {
            "endpoint-arn": lambda e: e.arn,
            "endpoint-type": lambda e: e.params["EndpointType"],
            "endpoint-id": lambda e: e.ident,
            "engine-name": lambda e: e.params["EngineName"],
        })
        # endpoint-type compares without regard to case (SOURCE / source)
        types = [f["Name"] == "endpoint-type" for f in p.get("Filters") or []]
        filters = [(g, [v.lower() for v in vals]) if is_type else (g, vals)
                   for (g, vals), is_type in zip(filters, types)]
        items = [e for e in self.endpoints.values() if self._match(e, filters)]
        if not items:
            raise DmsError("ResourceNotFoundFault", "No Endpoints found matching provided filters")
        page, nxt = self._page("DescribeEndpoints", items, p)
        out = {"Endpoints": [self._endpoint_json(e) for e in page]}
        if nxt:
            out["Marker"] = nxt
        return out

    def _op_DeleteEndpoint(self, p, now):
        ep = self._endpoint(p["EndpointArn"])
        if ep.status == "deleting":
            raise DmsError("InvalidResourceStateFault", f"Endpoint {ep.ident} is already being deleted")
        users = [t.ident for t in self.tasks.values() if ep.arn in (t.source_arn, t.target_arn)]
        if users:
            raise DmsError("InvalidResourceStateFault",
                           f"Endpoint {ep.ident} is used by replication tasks: {', '.join(users)}")
        ep.status = "deleting"
        ep.until = now + self.timings["endpoint_delete"]
        return {"Endpoint": self._endpoint_json(ep)}

    def _op_ModifyEndpoint(self, p, now):
        ep = self._endpoint(p["EndpointArn"])
        if ep.status != "active":
            raise DmsError("InvalidResourceStateFault", f"Endpoint {ep.ident} is {ep.status}")
        new = dict(ep.params)
        for k, v in p.items():
            if k in ("EndpointArn", "ExactSettings"):
                continue
            if k.endswith("Settings") and isinstance(v, dict) and not p.get("ExactSettings"):
                new[k] = _merge(new.get(k) or {}, v)
            else:
                new[k] = v
        new["EndpointType"] = new["EndpointType"].lower()
        if "EndpointIdentifier" in p and p["EndpointIdentifier"] != ep.ident:
            _check_identifier("EndpointIdentifier", p["EndpointIdentifier"], 255)
            for other in self.endpoints.values():
                if other.ident == p["EndpointIdentifier"]:
                    raise DmsError("ResourceAlreadyExistsFault",
                                   f"Endpoint with identifier {other.ident} already exists", resourceArn=other.arn)
        self._check_endpoint_params(new)
        if new["EngineName"] != ep.params["EngineName"] and any(
                ep.arn in (t.source_arn, t.target_arn) for t in self.tasks.values()):
            raise DmsError("InvalidResourceStateFault", "Cannot change the engine of an endpoint used by a task")
        ep.params = new
        ep.ident = new["EndpointIdentifier"]
        return {"Endpoint": self._endpoint_json(ep)}

    # connections

    def _op_TestConnection(self, p, now):
        inst = self._instance(p["ReplicationInstanceArn"])
        ep = self._endpoint(p["EndpointArn"])
        if inst.status != "available":
            raise DmsError("InvalidResourceStateFault",
                           f"Replication instance {inst.ident} is {inst.status}, not available")
        if ep.status != "active":
            raise DmsError("InvalidResourceStateFault", f"Endpoint {ep.ident} is {ep.status}")
        key = (inst.arn, ep.arn)
        c = self.connections.get(key)
        if c and c["status"] == "testing":
            raise DmsError("InvalidResourceStateFault",
                           f"Connection between endpoint {ep.ident} and replication instance {inst.ident} "
                           f"is already being tested")
        msg = self.connection_failures.get(ep.ident)
        self.connections[key] = {"status": "testing", "until": now + self.timings["connection_test"],
                                 "result": "failed" if msg else "successful", "message": msg}
        return {"Connection": self._connection_json(key, self.connections[key])}

    def _op_DescribeConnections(self, p, now):
        filters = self._filters(p, {
            "endpoint-arn": lambda kc: kc[0][1],
            "replication-instance-arn": lambda kc: kc[0][0],
        })
        items = [kc for kc in self.connections.items() if self._match(kc, filters)]
        if not items:
            raise DmsError("ResourceNotFoundFault", "No connections found matching provided filters")
        page, nxt = self._page("DescribeConnections", items, p)
        out = {"Connections": [self._connection_json(k, c) for k, c in page]}
        if nxt:
            out["Marker"] = nxt
        return out

    def _op_RefreshSchemas(self, p, now):
        inst = self._instance(p["ReplicationInstanceArn"])
        ep = self._endpoint(p["EndpointArn"])
        if inst.status != "available":
            raise DmsError("InvalidResourceStateFault",
                           f"Replication instance {inst.ident} is {inst.status}, not available")
        cur = self.refreshes.get(ep.arn)
        if cur and cur["status"] == "refreshing":
            raise DmsError("InvalidResourceStateFault", f"Schemas of endpoint {ep.ident} are already refreshing")
        self.refreshes[ep.arn] = {"status": "refreshing", "until": now + self.timings["refresh_schemas"],
                                  "instance": inst.arn, "last_v": cur["last_v"] if cur else None}
        return {"RefreshSchemasStatus": self._refresh_json(ep.arn)}

    def _refresh_json(self, ep_arn):
        r = self.refreshes[ep_arn]
        out = {"EndpointArn": ep_arn, "ReplicationInstanceArn": r["instance"], "Status": r["status"]}
        if r["last_v"] is not None:
            out["LastRefreshDate"] = self._wall(r["last_v"])
        return out

    def _op_DescribeRefreshSchemasStatus(self, p, now):
        ep = self._endpoint(p["EndpointArn"])
        if ep.arn not in self.refreshes:
            raise DmsError("ResourceNotFoundFault", f"No schema refresh found for endpoint {ep.ident}")
        return {"RefreshSchemasStatus": self._refresh_json(ep.arn)}
