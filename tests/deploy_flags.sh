#!/usr/bin/env bash
# tests/deploy_flags.sh - keeps deploy/ in step with the binary: every --flag
# and AVIARY_* variable used there exists (aviary CMD --help, or a variable
# read with getenv in src/), the YAML parses, systemd accepts the units.
# Ends with "deploy_flags: N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${AVIARY_BIN:-build/aviary}
passed=0 failed=0 skipped=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1${2:+: $2}"; failed=$((failed + 1)); }
skip() { echo "SKIP $1${2:+: $2}"; skipped=$((skipped + 1)); }
summary() { echo "deploy_flags: $passed passed, $failed failed, $skipped skipped"; }
[ -x "$BIN" ] && [ -d deploy ] || { skip deploy_flags "needs $BIN and deploy/"; summary; exit 0; }

help=$(for c in serve model-server db mlmd; do "$BIN" "$c" --help 2>&1; done)
envs=$(printf '%s\n' "$help"; grep -rhoE 'getenv\("AVIARY_[A-Z_]+"' src | grep -oE 'AVIARY_[A-Z_]+')
files=$(find deploy -type f)
bad=""
# the aviary command lines: ExecStart, compose/k8s command lists
lines=$(grep -hE 'aviary (serve|model-server|db|mlmd)|command: *\[ *"(serve|model-server|db|mlmd)"|args: *\[ *"(serve|model-server|db|mlmd)"' $files)
for f in $(grep -oE -- '--[a-z][a-z-]+' <<<"$lines" | sort -u); do
  grep -qE -- "^  $f( |$)" <<<"$help" || bad="$bad $f"
done
[ -z "$bad" ] && pass flags_exist || fail flags_exist "unknown to aviary:$bad"
bad=""
for v in $(grep -hoE 'AVIARY_[A-Z_]+' $files | sort -u); do
  grep -qw "$v" <<<"$envs" || bad="$bad $v"
done
[ -z "$bad" ] && pass env_vars_exist || fail env_vars_exist "unknown:$bad"

if python3 -c 'import yaml' 2>/dev/null; then
  for y in $(find deploy -name '*.yml' -o -name '*.yaml'); do
    if python3 -c 'import sys,yaml; list(yaml.safe_load_all(open(sys.argv[1])))' "$y" 2>/dev/null
    then pass "yaml $y"; else fail "yaml $y"; fi
  done
else skip yaml "python3 yaml module missing"; fi

if command -v systemd-analyze >/dev/null && ls deploy/systemd/*.service >/dev/null 2>&1; then
  # /usr/bin/aviary and its man page are not installed on a development
  # machine: those are the allowed complaints (tests/install.sh installs them)
  out=$(systemd-analyze verify deploy/systemd/*.service 2>&1 |
        grep -v -e 'Command /usr/bin/aviary is not executable' -e "Command 'man aviary(1)' failed")
  [ -z "$out" ] && pass systemd_verify || fail systemd_verify "$out"
else skip systemd_verify "systemd-analyze not installed"; fi
summary
[ "$failed" -eq 0 ]
