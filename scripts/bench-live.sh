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

# Sets frames, drops, cpu, m and verdict from the watch's summary line and /usr/bin/time's last line.
watch_figures() {
    local summary u s
    summary=$(tail -1 "$work/events.jsonl")
    frames=$(echo "$summary" | python3 -c 'import json,sys; print(json.load(sys.stdin)["frames"])')
    drops=$(echo "$summary" | python3 -c 'import json,sys; s=json.load(sys.stdin); print(sum(d["kernel"]+d["pcap"] for d in s["drops"]))')
    read -r u s m < <(tail -1 "$work/time")
    cpu=$(python3 -c "print(round($u+$s,2))")
    verdict=$([ "$drops" = 0 ] && echo ok || echo DROPS)
}
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
    watch_figures
    printf '%-8s %-10s %-12s %-12s %-8s %-8s %-8s\n' "$q" "${answered:-?}" "$frames" "$drops" "$cpu" "$((m/1024))" "$verdict"
done

# The capture ceiling: the same DNS traffic (recorded from the dnsperf run above) replayed with tcpreplay at fixed
# packet rates onto a veth between two namespaces, dnsw capturing on the far end. No resolver limits the rate here.
command -v tcpreplay >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q tcpreplay >/dev/null
ip netns exec "$ns" timeout 5 tcpdump -i lo -w "$work/dns.pcap" -c 100000 udp port 53 >/dev/null 2>&1 &
dump=$!
sleep 0.5
ip netns exec "$ns" dnsperf -s 127.0.0.1 -d "$work/queries" -l 3 -Q 20000 -c 8 > /dev/null 2>&1 || true
wait $dump || true
nsa="dnswbencha$$"; nsb="dnswbenchb$$"
cleanup2() { cleanup; ip netns del "$nsa" 2>/dev/null || true; ip netns del "$nsb" 2>/dev/null || true; }
trap cleanup2 EXIT
ip netns add "$nsa"; ip netns add "$nsb"
ip -n "$nsa" link add va type veth peer name vb netns "$nsb"
ip -n "$nsa" link set va up; ip -n "$nsb" link set vb up
replay_rates=(${REPLAY_RATES:-100000 200000 300000 top})   # "top": as fast as tcpreplay can send
echo
printf '%-10s %-10s %-12s %-12s %-8s %-8s %-8s\n' pps_asked pps_sent dnsw_frames dnsw_drops cpu_s rss_mb verdict
for r in "${replay_rates[@]}"; do
    # vb plays the tunnel: the flood is on the safe path, so this measures capture, dissection and attribution, not event output.
    ip netns exec "$nsb" /usr/bin/time -f '%U %S %M' -o "$work/time" "$dnsw" leak watch --iface vb --duration 14s \
        --profile full-tunnel --tunnel-iface vb --format json --out "$work/events.jsonl" > /dev/null 2> "$work/watch.err" &
    watch=$!
    sleep 3
    if [ "$r" = top ]; then
        ip netns exec "$nsa" tcpreplay -i va --topspeed --duration=8 --loop=1000 "$work/dns.pcap" > "$work/replay.txt" 2>&1 || true
    else
        ip netns exec "$nsa" tcpreplay -i va --pps="$r" --duration=8 --loop=1000 "$work/dns.pcap" > "$work/replay.txt" 2>&1 || true
    fi
    wait $watch || true
    sent=$(grep -o '[0-9.]* pps' "$work/replay.txt" | head -1 | cut -d' ' -f1 | cut -d. -f1)
    watch_figures
    printf '%-10s %-10s %-12s %-12s %-8s %-8s %-8s\n' "$r" "${sent:-?}" "$frames" "$drops" "$cpu" "$((m/1024))" "$verdict"
done
