#!/usr/bin/python3
"""Converts openapi.yaml to JSON and writes it as a C byte array.

Usage: embed.py openapi.yaml out.c
Fails (exit 1) if the YAML does not parse or is not an OpenAPI 3.1 document.
"""
import json
import sys

import yaml


def main() -> int:
    src, out = sys.argv[1], sys.argv[2]
    with open(src, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    if not isinstance(doc, dict) or not str(doc.get("openapi", "")).startswith("3.1"):
        print(f"{src}: not an OpenAPI 3.1 document", file=sys.stderr)
        return 1
    data = json.dumps(doc, separators=(",", ":"), sort_keys=False).encode()
    with open(out, "w", encoding="ascii") as f:
        f.write("/* Generated from openapi/openapi.yaml by openapi/embed.py. */\n")
        f.write('#include "openapi/openapi_json.h"\n\n')
        f.write("const unsigned char co_openapi_json[] = {\n")
        for i in range(0, len(data), 16):
            f.write("    " + ", ".join(str(b) for b in data[i:i + 16]) + ",\n")
        f.write("};\n")
        f.write(f"const size_t co_openapi_json_len = {len(data)};\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
