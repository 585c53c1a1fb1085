#!/usr/bin/env bash
# tests/file_cycles.sh - no file-level call cycles inside any module (every
# folder of src/, and the engine's subfolders; issue 14): a lower file holds
# what two files both need. scripts/file-graph draws a module's graph; this fails on any cycle.
# Ends with "file_cycles: N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."
passed=0 failed=0 skipped=0
summary() { echo "file_cycles: $passed passed, $failed failed, $skipped skipped"; }
if ! command -v python3 >/dev/null; then
  echo "SKIP file_cycles: needs python3"; skipped=1; summary; exit 0
fi
for m in $(cd src && ls -d */ nn/*/ | sed 's#/$##'); do
  if out=$(scripts/file-graph "src/$m"); then
    echo "PASS file_cycles/$m"; passed=$((passed + 1))
  else
    echo "FAIL file_cycles/$m:"; sed -n '/^cycles:/,$p' <<<"$out"; failed=$((failed + 1))
  fi
done
summary
