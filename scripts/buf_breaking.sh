#!/usr/bin/env bash
# `buf breaking` against the protos on main; skipped (with a note) when main has no protos yet or no git history.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
against_ref="${BUF_BREAKING_AGAINST:-main}"
# On main itself, compare with main's previous commit: the change that is landing.
if [ -z "${BUF_BREAKING_AGAINST:-}" ] && [ "$(git rev-parse HEAD)" = "$(git rev-parse -q --verify main || true)" ]; then
  against_ref="HEAD~1"
fi
if ! git rev-parse --verify -q "$against_ref" >/dev/null || ! git ls-tree -r --name-only "$against_ref" -- protos | grep -q '\.proto$'; then
  echo "buf breaking: $against_ref has no protos yet, skipped"
  exit 0
fi
npx --no-install buf breaking --against ".git#ref=$(git rev-parse "$against_ref"),subdir=protos" protos
