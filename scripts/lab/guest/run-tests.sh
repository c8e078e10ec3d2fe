#!/usr/bin/env bash
# Runs compiled lab test files one after the other, each in its own node process, and prints
# its TAP as it goes: `node --test a b c` prints a file's results only once its first top-level
# test has ended, so a slow or stuck file showed nothing at all (a CI run was cut off at its
# time limit 20+ minutes into the crash suite with "TAP version 13" as the tier's only line).
# Each file is preceded by a line with the time, and a table of files, results and seconds
# ends the run. Exit status: 1 if any file failed, 2 if given no file.
#
#   scripts/lab/guest/run-tests.sh FILE.test.js...
set -uo pipefail
(($# > 0)) || {
  echo "run-tests: no test file given" >&2
  exit 2
}
failed=0
declare -a rows=()
for file in "$@"; do
  [[ -f "$file" ]] || {
    echo "run-tests: $file does not exist" >&2
    rows+=("$(printf '%-48s %s' "$(basename "$file")" 'MISSING')")
    failed=1
    continue
  }
  printf '\n### [%s] %s\n' "$(date -u +%H:%M:%S)" "$file"
  started=$SECONDS
  # In-process run: the TAP reporter streams each test as it ends.
  if node --test-reporter=tap "$file"; then
    result=ok
  else
    result=FAILED
    failed=1
  fi
  rows+=("$(printf '%-48s %-6s %5d s' "$(basename "$file")" "$result" $((SECONDS - started)))")
done
printf '\n### files\n'
printf '%s\n' "${rows[@]}"
exit "$failed"
