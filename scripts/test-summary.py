#!/usr/bin/python3
"""Prints 'N passed, N failed' over all C checks and pytest cases of a meson
test run, read from meson's testlog.json (each test's captured output ends
with its own 'N passed' / 'N failed' summary)."""
import json
import re
import sys

passed = failed = skipped = 0
with open(sys.argv[1], encoding="utf-8") as f:
    for line in f:
        rec = json.loads(line)
        out = rec.get("stdout", "") or ""
        tail = out.strip().splitlines()[-3:] if out.strip() else []
        text = " ".join(tail)
        p = re.search(r"(\d+) passed", text)
        fl = re.search(r"(\d+) failed", text)
        e = re.search(r"(\d+) errors?", text)
        s = re.search(r"(\d+) skipped", text)
        if p or fl:
            passed += int(p.group(1)) if p else 0
            failed += int(fl.group(1)) if fl else 0
            failed += int(e.group(1)) if e else 0
            skipped += int(s.group(1)) if s else 0
        elif rec.get("result") == "OK":
            passed += 1
        elif rec.get("result") not in ("SKIP",):
            failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
