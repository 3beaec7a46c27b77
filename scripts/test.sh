#!/usr/bin/env bash
# Runs every test: installs the packages the tests drive, builds, runs unit, property and
# real-network tests (the latter need root and build throwaway network namespaces), then prints
# the totals as its last line: "N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test || exit 1
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

if ! dotnet build DnsWarden.slnx -c Release -nologo -v quiet; then
    echo "build failed"
    echo "0 passed, 1 failed"
    exit 1
fi

results="$(mktemp -d /tmp/dnsw-test-results.XXXXXX)"
trap 'rm -rf "$results"' EXIT
log="$results/test.log"
dotnet test --solution DnsWarden.slnx -c Release --no-build --results-directory "$results" \
    --report-xunit-trx 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# Totals from the run summary that Microsoft.Testing.Platform prints.
total() { grep -E "^\s+$1: [0-9]+" "$log" | tail -n 1 | grep -oE '[0-9]+' || echo 0; }
passed=$(total succeeded)
failed=$(total failed)
skipped=$(total skipped)
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
    failed=1   # the runner itself failed (a crash or a test host that did not start)
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
