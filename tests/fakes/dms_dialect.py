"""dms_dialect: answers in the ways other DMS implementations (and DMS itself,
at times) write them, so that clients are tested for tolerant reading.

Part of the fake DMS (entry point: tests/fakes/fake_dms.py).  The dialect is a
set of switches applied to every API answer after it was checked against the
model's output shape (the checks stay strict; only the wire form changes):

    nulls   every member of an output structure that the fake leaves out is
            sent as JSON null (e.g. "ReplicationTaskStartDate": null for a
            task that never started, "StopReason": null)
    iso     timestamps as ISO-8601 strings ("2026-12-01T19:54:51.123Z")
            instead of epoch seconds
    extra   unknown members in every structure ("XFakeExtra": {...},
            "XFakeFlag": true), as a newer API version would add
    sparse  optional members left out: ReplicationTaskStats, StopReason,
            RecoveryCheckpoint, and every TableStatistics member but
            SchemaName, TableName and TableState

"aws" (or an empty list) is the plain dialect.
"""

import datetime

from dms_model import _Ts

DIALECTS = ("nulls", "iso", "extra", "sparse")

SPARSE_DROP = {"ReplicationTaskStats", "StopReason", "RecoveryCheckpoint"}
SPARSE_TABLE_KEEP = {"SchemaName", "TableName", "TableState"}


def parse_dialect(value):
    """A dialect setting ("aws", "nulls", "nulls,iso" or a list) as a frozenset."""
    if value is None or value == "aws":
        return frozenset()
    items = value.split(",") if isinstance(value, str) else list(value)
    out = set()
    for item in items:
        item = item.strip()
        if item in ("", "aws"):
            continue
        if item not in DIALECTS:
            raise ValueError(f"unknown dialect {item}; known: aws, {', '.join(DIALECTS)}")
        out.add(item)
    return frozenset(out)


def _iso(ts):
    dt = datetime.datetime.fromtimestamp(float(ts), tz=datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def apply_dialect(dialect, shape, value):
    """value (an answer of output shape `shape`) written in dialect."""
    if not dialect:
        return value
    t = shape.type_name
    if t == "structure" and isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if "sparse" in dialect and (k in SPARSE_DROP or
                                        (shape.name == "TableStatistics" and k not in SPARSE_TABLE_KEEP)):
                continue
            member = shape.members.get(k)
            out[k] = apply_dialect(dialect, member, v) if member is not None else v
        if "nulls" in dialect:
            for k in shape.members:
                if k not in out:
                    out[k] = None
        if "extra" in dialect:
            out["XFakeExtra"] = {"Note": "a member this client does not know", "List": [1, None]}
            out["XFakeFlag"] = True
        return out
    if t == "list" and isinstance(value, list):
        return [apply_dialect(dialect, shape.member, v) for v in value]
    if t == "timestamp" and isinstance(value, _Ts) and "iso" in dialect:
        return _iso(value)
    return value
