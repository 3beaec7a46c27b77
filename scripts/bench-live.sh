#!/usr/bin/env bash
# Live capture figure for docs/BENCHMARKS.md: dnsperf floods a resolver on a throwaway namespace's loopback
# while `dnsw leak watch` captures there; prints the offered/answered rate, the packets dnsw saw, its drops,
# and its CPU time and peak memory. Nothing leaves the namespace (it has no link to anything).
#   sudo scripts/bench-live.sh [QPS ...]       default: 10000 25000 50000 100000
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "bench-live: needs root (network namespace)" >&2; exit 1; }
rates=("$@"); [ ${#rates[@]} -gt 0 ] || rates=(10000 25000 50000 100000)
ns="dnswbench$$"
work="$(mktemp -d /tmp/dnsw-bench-live-XXXX)"
cleanup() { ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true; ip netns del "$ns" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
ip netns exec "$ns" dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --listen-address=127.0.0.1 \
    --bind-interfaces --user=root --group=root --pid-file="$work/dnsmasq.pid" --cache-size=10000 \
    --address=/bench.dnsw.test/10.9.9.9 --log-facility=/dev/null &
sleep 0.5
for i in $(seq 1 1000); do echo "q$i.bench.dnsw.test A"; done > "$work/queries"
dnsw="$(pwd)/out/dnsw"
[ -x "$dnsw" ] || ./dnsw --help >/dev/null
printf '%-8s %-10s %-12s %-12s %-8s %-8s %-8s\n' offered answered dnsw_frames dnsw_drops cpu_s rss_mb verdict
for q in "${rates[@]}"; do
    ip netns exec "$ns" /usr/bin/time -f '%U %S %M' -o "$work/time" "$dnsw" leak watch --iface lo --duration 12s \
        --profile full-tunnel --format json --out "$work/events.jsonl" > /dev/null 2> "$work/watch.err" &
    watch=$!
    sleep 2
    ip netns exec "$ns" dnsperf -s 127.0.0.1 -d "$work/queries" -l 8 -Q "$q" -c 8 -q 1000 > "$work/perf.txt" 2>&1 || true
    wait $watch || true
    answered=$(awk '/Queries per second/ {print int($4)}' "$work/perf.txt")
    summary=$(tail -1 "$work/events.jsonl")
    frames=$(echo "$summary" | python3 -c 'import json,sys; print(json.load(sys.stdin)["frames"])')
    drops=$(echo "$summary" | python3 -c 'import json,sys; s=json.load(sys.stdin); print(sum(d["kernel"]+d["pcap"] for d in s["drops"]))')
    read -r u s m < "$work/time"
    cpu=$(python3 -c "print(round($u+$s,2))")
    verdict=$([ "$drops" = 0 ] && echo ok || echo DROPS)
    printf '%-8s %-10s %-12s %-12s %-8s %-8s %-8s\n' "$q" "${answered:-?}" "$frames" "$drops" "$cpu" "$((m/1024))" "$verdict"
done
