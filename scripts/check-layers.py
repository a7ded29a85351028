#!/usr/bin/env python3
"""check-layers - fails when a folder includes one above it.

Reads every `#include "folder/file.h"` line of the C sources and headers of
the product folders and checks it against the layers below (each folder may
include its own files and those of folders in lower layers; folders of the
same layer may not include each other). Tests (tests/, fuzz/) may include
anything and are not checked. docs/architecture.md shows the same picture.

Usage: scripts/check-layers.py [ROOT]   (exit 0 clean, 1 on a violation)
"""
import os
import re
import sys

# layer number of each product folder: lower layers never include higher ones
LAYERS = {
    "core": 0, "openapi": 0, "ui": 0,
    "store": 1, "pg": 1, "aws": 1, "cli": 1,
    "events": 2,
    "engine": 3,
    "handlers": 4,
    "server": 5,
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"/]+)/[^"]+"')


def check(root):
    problems = []
    edges = set()
    for folder in sorted(LAYERS):
        d = os.path.join(root, folder)
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            if not name.endswith((".c", ".h")):
                continue
            path = os.path.join(d, name)
            with open(path, encoding="utf-8", errors="replace") as f:
                for n, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if not m or m.group(1) == folder:
                        continue
                    other = m.group(1)
                    where = "%s/%s:%d" % (folder, name, n)
                    if other not in LAYERS:
                        problems.append("%s includes %s/, which is not a known layer"
                                        % (where, other))
                        continue
                    edges.add((folder, other))
                    if LAYERS[other] > LAYERS[folder]:
                        problems.append("%s: %s/ (layer %d) includes %s/ (layer %d), "
                                        "a layer above it" % (where, folder, LAYERS[folder],
                                                             other, LAYERS[other]))
                    elif LAYERS[other] == LAYERS[folder]:
                        problems.append("%s: %s/ includes %s/, a folder of the same layer"
                                        % (where, folder, other))
    for a, b in sorted(edges):
        if a < b and (b, a) in edges:
            problems.append("%s/ and %s/ include each other" % (a, b))
    return problems


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(
        os.path.dirname(os.path.abspath(__file__)))
    problems = check(root)
    for p in problems:
        print("layers: " + p)
    if problems:
        print("layers: %d violation(s); see docs/architecture.md" % len(problems))
        return 1
    print("layers: every include points to a lower layer")
    return 0


if __name__ == "__main__":
    sys.exit(main())
