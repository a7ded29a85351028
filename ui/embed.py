#!/usr/bin/python3
"""Writes the dashboard's static files as C byte arrays with a lookup table.

Usage: embed.py out.c root file...
Each file is named by its path relative to root ("index.html",
"vendor/uplot.min.css"); its content type comes from its extension. Fails
(exit 1) on an extension without a known content type.
"""
import os
import sys

TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".LICENSE": "text/plain; charset=utf-8",
}


def main() -> int:
    out, root, files = sys.argv[1], sys.argv[2], sys.argv[3:]
    rows = []
    with open(out, "w", encoding="ascii") as f:
        f.write("/* Generated from ui/ by ui/embed.py. */\n")
        f.write('#include "ui/ui_assets.h"\n\n')
        for i, path in enumerate(sorted(files)):
            name = os.path.relpath(path, root).replace(os.sep, "/")
            ext = os.path.splitext(name)[1]
            if ext not in TYPES:
                print(f"{name}: no content type for {ext!r}", file=sys.stderr)
                return 1
            with open(path, "rb") as src:
                data = src.read()
            f.write(f"static const unsigned char a{i}[] = {{\n")
            for k in range(0, len(data), 20):
                f.write("    " + ", ".join(str(b) for b in data[k:k + 20]) + ",\n")
            f.write("    0};\n")
            rows.append((name, TYPES[ext], i, len(data)))
        f.write("\nconst co_ui_asset co_ui_assets[] = {\n")
        for name, ctype, i, n in rows:
            f.write(f'    {{"{name}", "{ctype}", a{i}, {n}}},\n')
        f.write("};\n")
        f.write(f"const size_t co_ui_assets_count = {len(rows)};\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
