#!/usr/bin/env bash
# Regenerates the Python stubs for every proto under protos/ into libs/sluicegate/ (the one place generated code lives).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-$root/.venv/bin/python}"
out="$root/libs/sluicegate"
cd "$root/protos"
mapfile -t files < <(find sluicegate -name '*.proto' | sort)
# Remove old stubs first so a deleted proto leaves nothing behind.
find "$out" -path "$out/runtime" -prune -o \( -name '*_pb2*.py' -o -name '*_pb2*.pyi' \) -print0 | xargs -0 rm -f
"$python" -m grpc_tools.protoc -I. --python_out="$out/.." --pyi_out="$out/.." --grpc_python_out="$out/.." "${files[@]}"
# Every generated folder is a regular package so `from sluicegate.router.v1 import router_pb2` works everywhere.
for f in "${files[@]}"; do
  d="$(dirname "$f")"
  while [ "$d" != "." ]; do
    [ -f "$out/../$d/__init__.py" ] || echo '"""Generated protobuf package."""' > "$out/../$d/__init__.py"
    d="$(dirname "$d")"
  done
done
