#!/usr/bin/env bash
# Runs the daemon end to end on embedded defaults:
# - Redis: $REDIS_URL when set; otherwise a private redis-server on a free
#   loopback port (Debian's redis-server package is installed when missing);
# - upstream: $UPSTREAM_BASE_URL when set (with UPSTREAM_TOKEN/_FILE and
#   UPSTREAM_GROUP_ID); otherwise the upstream simulator on 127.0.0.1.
# Ctrl-C (or SIGTERM) stops the daemon gracefully, then what this script
# started, by PID. DEMO_SECONDS=N stops the whole demo after N seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -d node_modules ] || npm ci --no-audit --no-fund
[ -f dist/src/cli/main.js ] || npm run build --silent

state=".demo"
mkdir -p "$state"
pids=()
cleanup() {
  trap - EXIT INT TERM
  [ -n "${daemon_pid:-}" ] && kill -TERM "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null || true
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 0' INT TERM

free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

if [ -z "${REDIS_URL:-}" ]; then
  bash scripts/ensure-redis.sh
  port=$(free_port)
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$state" >"$state/redis.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  export REDIS_URL="redis://127.0.0.1:$port"
  echo "demo: private redis-server (pid ${pids[-1]}) at $REDIS_URL" >&2
fi

if [ -z "${UPSTREAM_BASE_URL:-}" ]; then
  export UPSTREAM_TOKEN="${UPSTREAM_TOKEN:-demo-token-0000}"
  export UPSTREAM_GROUP_ID="${UPSTREAM_GROUP_ID:-15555411412112}"
  node dist/test/support/simulator/cli.js --port 0 --projects "${DEMO_PROJECTS:-50}" \
    --token "$UPSTREAM_TOKEN" --group-id "$UPSTREAM_GROUP_ID" >"$state/simulator.json" &
  pids+=($!)
  for _ in $(seq 1 100); do [ -s "$state/simulator.json" ] && break; sleep 0.1; done
  UPSTREAM_BASE_URL=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")).url)' "$state/simulator.json")
  export UPSTREAM_BASE_URL
  # The simulator takes more than the real upstream's conservative default.
  export UPSTREAM_RATE_LIMIT="${UPSTREAM_RATE_LIMIT:-100}"
  echo "demo: upstream simulator (pid ${pids[-1]}) at $UPSTREAM_BASE_URL with ${DEMO_PROJECTS:-50} projects" >&2
fi

echo "demo: read a key with: redis-cli -u $REDIS_URL get ${CACHE_PREFIX:-zsxq}:projects:list:ongoing" >&2
echo "demo: status with:     REDIS_URL=$REDIS_URL npx cache-warmer status" >&2

node dist/src/cli/main.js run "$@" &
daemon_pid=$!
if [ -n "${DEMO_SECONDS:-}" ]; then
  ( sleep "$DEMO_SECONDS"; kill -TERM "$daemon_pid" 2>/dev/null || true ) &
  pids+=($!)
fi
set +e
wait "$daemon_pid"
code=$?
daemon_pid=""
exit "$code"
