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

# The end-to-end tests drive the binary ./dnsw ships (the native build), not only the assembly the build made.
native_failed=0
if ./dnsw --version >/dev/null; then
    export DNSW_BINARY="$PWD/out/dnsw"
else
    echo "the ./dnsw build failed; end-to-end tests run dotnet dnsw.dll"
    native_failed=1
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
failed=$((failed + native_failed))
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
    failed=1   # the runner itself failed (a crash or a test host that did not start)
fi

# A bounded fuzz pass over every reader: a fixed seed (repeatable) and one drawn now (explores);
# each target is one test. A failing input is kept as hex in fuzz-crashes/ with its stack trace.
fuzz_seed=${DNSW_FUZZ_SEED:-$(( $(date +%s) % 100000 ))}
for seed in 1 "$fuzz_seed"; do
    echo "fuzz pass: seed $seed"
    fuzz_log="$results/fuzz-$seed.log"
    dotnet fuzz/DnsWarden.Fuzzing/bin/Release/net10.0/DnsWarden.Fuzzing.dll all --random 200000 --seed "$seed" \
        --crash-dir fuzz-crashes 2>&1 | tee "$fuzz_log" | grep -vE "^[0-9]+ passed" | tail -n 12
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$fuzz_log" | tail -n 1)
    if [ -z "$line" ]; then
        failed=$((failed + 1))
    else
        passed=$((passed + $(echo "$line" | cut -d' ' -f1)))
        failed=$((failed + $(echo "$line" | cut -d' ' -f3)))
    fi
done

echo "$passed passed, $failed failed, $skipped skipped"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
