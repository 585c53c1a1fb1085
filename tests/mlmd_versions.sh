#!/usr/bin/env bash
# tests/mlmd_versions.sh - `aviary model-server --db` records in ML Metadata
# every model version it loads: the one live at start, and one hot-loaded
# later from --model-base-path; the same model files are one Artifact.
# Ends with "mlmd_versions: N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${AVIARY_BIN:-build/aviary}
passed=0 failed=0 skipped=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1${2:+: $2}"; failed=$((failed + 1)); }
summary() { echo "mlmd_versions: $passed passed, $failed failed, $skipped skipped"; }
if [ ! -x "$BIN" ] || [ ! -f models/human/nanodet.bin ]; then
  echo "SKIP mlmd_versions (needs $BIN and fetched models)"; skipped=1; summary; exit 0
fi
TMP=$(mktemp -d /tmp/aviary-mlmd.XXXXXX)
PID=
cleanup() { [ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
mkdir -p "$TMP/base"
ln -s "$PWD/models" "$TMP/base/1"
port=$((20000 + RANDOM % 20000))
"$BIN" model-server --listen 127.0.0.1 --port "$port" --model-base-path "$TMP/base" \
  --db "sqlite:$TMP/m.db" --threads 1 --log-level info 2>"$TMP/ms.log" &
PID=$!
up=0
for _ in $(seq 1 150); do
  curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && { up=1; break; }
  sleep 0.1
done
[ "$up" = 1 ] || { fail start "$(tail -n 3 "$TMP/ms.log")"; summary; exit 1; }
wait_log() { # pattern, seconds
  for _ in $(seq 1 $(($2 * 10))); do grep -q "$1" "$TMP/ms.log" && return 0; sleep 0.1; done
  return 1
}
if wait_log 'event=mlmd_registered.*version=1 ' 5; then pass version_1_registered
else fail version_1_registered "$(grep mlmd "$TMP/ms.log" | tail -n 2)"; fi
ln -s "$PWD/models" "$TMP/base/2" # a new version appears: hot-loaded, then recorded
if wait_log 'event=mlmd_registered.*version=2 ' 15; then pass hot_loaded_version_registered
else fail hot_loaded_version_registered "$(tail -n 3 "$TMP/ms.log")"; fi
kill -TERM "$PID"; wait "$PID" 2>/dev/null; PID=
st=$("$BIN" mlmd status --db "sqlite:$TMP/m.db" 2>&1)
# the same files: still 2 model Artifacts (detector, species); 2 runs, 1 deployment
if [[ "$st" == *"(models: 2)"* ]] && [[ "$st" == *"executions: 2,"* ]] && [[ "$st" == *"contexts: 1,"* ]]
then pass registered_once_two_runs
else fail registered_once_two_runs "$st"; fi
summary
[ "$failed" -eq 0 ]
