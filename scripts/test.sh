#!/usr/bin/env bash
# Runs every test: installs the packages the tests drive, builds, runs unit, property and real-network tests (the
# latter need root and build throwaway network namespaces), then a fuzz pass, and prints the totals as its last line:
# "N passed, N failed, N skipped".
#
#   scripts/test.sh             the whole suite
#   scripts/test.sh --stress    the same with every core kept busy by stress-ng for the whole run (DNSW_TEST_STRESS=1
#                               does the same): what a slow, loaded machine does to timing must not change a result
set -uo pipefail
cd "$(dirname "$0")/.."

stress=${DNSW_TEST_STRESS:-0}
for arg in "$@"; do
    case "$arg" in
        --stress) stress=1 ;;
        *) echo "usage: scripts/test.sh [--stress]" >&2; exit 2 ;;
    esac
done

scripts/setup.sh --test || exit 1
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
# Tools setup.sh takes out of packages without installing them (promtool).
export PATH="$PWD/.tools/bin:$PATH"

results="$(mktemp -d /tmp/dnsw-test-results.XXXXXX)"
stress_pid=""
cleanup() {
    if [ -n "$stress_pid" ]; then
        kill "$stress_pid" 2>/dev/null
        wait "$stress_pid" 2>/dev/null
    fi
    rm -rf "$results"
}
trap cleanup EXIT

if [ "$stress" = 1 ]; then
    # One CPU hog per core, at normal priority, for as long as the run lasts (killed on every way out).
    stress-ng --cpu "$(nproc)" --cpu-method matrixprod --quiet &
    stress_pid=$!
    echo "stress mode: stress-ng keeps all $(nproc) cores busy for the whole run"
fi

if ! dotnet build DnsWarden.slnx -c Release -nologo -v quiet; then
    echo "build failed"
    echo "0 passed, 1 failed"
    exit 1
fi

# House style: whitespace, indentation and the order of usings as .editorconfig says (the analyzers and doc-comment
# checks already fail the build). One check: a violation names its file and line and counts as one failure.
style_failed=0
if ! dotnet format whitespace DnsWarden.slnx --verify-no-changes --no-restore -v q > "$results/format.log" 2>&1; then
    echo "house style: dotnet format whitespace would change these files (run it without --verify-no-changes):"
    sed 's/ \[.*//' "$results/format.log" | head -n 20
    style_failed=1
fi

# The fuzz pass runs on a Checked build: Release optimisations with the wire readers' bounds checks on.
if ! dotnet build fuzz/DnsWarden.Fuzzing/DnsWarden.Fuzzing.csproj -c Checked -nologo -v quiet; then
    echo "checked build of the fuzz targets failed"
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

log="$results/test.log"
dotnet test --solution DnsWarden.slnx -c Release --no-build --results-directory "$results" \
    --report-xunit-trx 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# Totals from the run summary that Microsoft.Testing.Platform prints.
total() { grep -E "^\s+$1: [0-9]+" "$log" | tail -n 1 | grep -oE '[0-9]+' || echo 0; }
passed=$(total succeeded)
failed=$(total failed)
skipped=$(total skipped)
failed=$((failed + native_failed + style_failed))
passed=$((passed + 1 - style_failed))
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
    failed=1   # the runner itself failed (a crash or a test host that did not start)
fi

# A bounded fuzz pass over every reader: a fixed seed (repeatable) and one drawn now (explores);
# each target is one test. A failing input is kept as hex in fuzz-crashes/ with its stack trace.
fuzz_seed=${DNSW_FUZZ_SEED:-$(( $(date +%s) % 100000 ))}
for seed in 1 "$fuzz_seed"; do
    echo "fuzz pass: seed $seed"
    fuzz_log="$results/fuzz-$seed.log"
    dotnet fuzz/DnsWarden.Fuzzing/bin/Checked/net10.0/DnsWarden.Fuzzing.dll all --random 200000 --seed "$seed" \
        --crash-dir fuzz-crashes 2>&1 | tee "$fuzz_log" | grep -vE "^[0-9]+ passed" | tail -n 13
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$fuzz_log" | tail -n 1)
    if [ -z "$line" ] || ! grep -q '^wire bounds checks: on' "$fuzz_log"; then
        failed=$((failed + 1))
    else
        passed=$((passed + $(echo "$line" | cut -d' ' -f1)))
        failed=$((failed + $(echo "$line" | cut -d' ' -f3)))
    fi
done

echo "$passed passed, $failed failed, $skipped skipped"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
