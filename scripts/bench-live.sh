#!/usr/bin/env bash
# Live capture figure for docs/BENCHMARKS.md: dnsperf floods a resolver on a throwaway namespace's loopback
# while `dnsw leak watch` captures there; prints the offered/answered rate, the packets dnsw saw, its drops,
# its CPU time and peak memory, and what named the processes (send-time records kept). Nothing leaves the
# namespace (it has no link to anything). Every rate runs once per attribution mode, in turn, in the same run:
# "bpf" (send-time records, the default watch) and "no-bpf" (`--no-bpf`: sock_diag at packet time).
#   sudo [MODES="bpf no-bpf"] [REPLAY_RATES="100000 200000 300000 top"] scripts/bench-live.sh [QPS ...]
#   default QPS: 10000 25000 50000 100000
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "bench-live: needs root (network namespace)" >&2; exit 1; }
rates=("$@"); [ ${#rates[@]} -gt 0 ] || rates=(10000 25000 50000 100000)
modes=(${MODES:-bpf no-bpf})
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

# The watch's flag for an attribution mode.
mode_flag() { [ "$1" = no-bpf ] && echo --no-bpf || true; }

# Returns once the watch started as $watch says it is capturing.
wait_watching() {
    until grep -q watching "$work/watch.err" 2>/dev/null; do
        kill -0 "$watch" 2>/dev/null || { cat "$work/watch.err" >&2; exit 1; }
        sleep 0.05
    done
}

# Sets frames, drops, source, records, cpu, m and verdict from the watch's summary line and /usr/bin/time's last line.
watch_figures() {
    local summary u s
    summary=$(tail -1 "$work/events.jsonl")
    frames=$(echo "$summary" | python3 -c 'import json,sys; print(json.load(sys.stdin)["frames"])')
    drops=$(echo "$summary" | python3 -c 'import json,sys; s=json.load(sys.stdin); print(sum(d["kernel"]+d["pcap"] for d in s["drops"]))')
    source=$(echo "$summary" | python3 -c 'import json,sys; print(json.load(sys.stdin)["attribution"]["source"])')
    records=$(echo "$summary" | python3 -c 'import json,sys; a=json.load(sys.stdin)["attribution"]; print(str(a.get("send_records","-"))+"/"+str(a.get("send_records_lost","-")))')
    read -r u s m < <(tail -1 "$work/time")
    cpu=$(python3 -c "print(round($u+$s,2))")
    verdict=$([ "$drops" = 0 ] && echo ok || echo DROPS)
}
[ -x "$dnsw" ] || ./dnsw --help >/dev/null
printf '%-8s %-7s %-10s %-12s %-12s %-10s %-14s %-8s %-8s %-8s\n' offered mode answered dnsw_frames dnsw_drops source records/lost cpu_s rss_mb verdict
for q in "${rates[@]}"; do
  for mode in "${modes[@]}"; do
    : > "$work/watch.err"
    ip netns exec "$ns" /usr/bin/time -f '%U %S %M' -o "$work/time" "$dnsw" leak watch --iface lo --duration 12s \
        --profile full-tunnel --format json --out "$work/events.jsonl" $(mode_flag "$mode") > /dev/null 2> "$work/watch.err" &
    watch=$!
    wait_watching
    ip netns exec "$ns" dnsperf -s 127.0.0.1 -d "$work/queries" -l 8 -Q "$q" -c 8 -q 1000 > "$work/perf.txt" 2>&1 || true
    wait $watch || true
    answered=$(awk '/Queries per second/ {print int($4)}' "$work/perf.txt")
    watch_figures
    printf '%-8s %-7s %-10s %-12s %-12s %-10s %-14s %-8s %-8s %-8s\n' "$q" "$mode" "${answered:-?}" "$frames" "$drops" "$source" "$records" "$cpu" "$((m/1024))" "$verdict"
  done
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
printf '%-10s %-7s %-10s %-12s %-12s %-10s %-14s %-8s %-8s %-8s\n' pps_asked mode pps_sent dnsw_frames dnsw_drops source records/lost cpu_s rss_mb verdict
for r in "${replay_rates[@]}"; do
  for mode in "${modes[@]}"; do
    # vb plays the tunnel: the flood is on the safe path, so this measures capture, dissection and attribution, not event output.
    : > "$work/watch.err"
    ip netns exec "$nsb" /usr/bin/time -f '%U %S %M' -o "$work/time" "$dnsw" leak watch --iface vb --duration 14s \
        --profile full-tunnel --tunnel-iface vb --format json --out "$work/events.jsonl" $(mode_flag "$mode") > /dev/null 2> "$work/watch.err" &
    watch=$!
    wait_watching
    if [ "$r" = top ]; then
        ip netns exec "$nsa" tcpreplay -i va --topspeed --duration=8 --loop=1000 "$work/dns.pcap" > "$work/replay.txt" 2>&1 || true
    else
        ip netns exec "$nsa" tcpreplay -i va --pps="$r" --duration=8 --loop=1000 "$work/dns.pcap" > "$work/replay.txt" 2>&1 || true
    fi
    wait $watch || true
    sent=$(grep -o '[0-9.]* pps' "$work/replay.txt" | head -1 | cut -d' ' -f1 | cut -d. -f1)
    watch_figures
    printf '%-10s %-7s %-10s %-12s %-12s %-10s %-14s %-8s %-8s %-8s\n' "$r" "$mode" "${sent:-?}" "$frames" "$drops" "$source" "$records" "$cpu" "$((m/1024))" "$verdict"
  done
done
