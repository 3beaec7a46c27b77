#!/usr/bin/env bash
# What send-time attribution costs a sender, for docs/BENCHMARKS.md: connect and sendmsg latency
# (benchmarks/sender-cost/sender-cost.c) and the CPU time per query of dnsperf and dnsmasq at a fixed rate (CPU time,
# not throughput: on a shared machine the rate a saturated pair reaches moves by ±30 % from run to run), on a
# throwaway namespace's loopback, in three
# states taken in turn in every round: nothing running ("none"), `dnsw leak watch --no-bpf` running ("no-bpf": the
# watch without the program, for its share of the two cores) and `dnsw leak watch` with the program attached at the
# cgroup root ("bpf"). The watch runs in a namespace of its own and captures its idle loopback, so what it adds to
# the sender is the program in the kernel and the records it drains, not the capture of the sender's packets.
#   sudo scripts/bench-sender.sh [ROUNDS] [ITERATIONS]        default: 5 rounds of 100000 calls
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "bench-sender: needs root (network namespaces, BPF)" >&2; exit 1; }
rounds=${1:-5}
iterations=${2:-100000}
qps=${QPS:-20000}   # below what the pair reaches here (60–120 k/s), so every mode does the same work
dnsw="$(pwd)/out/dnsw"
[ -x "$dnsw" ] || ./dnsw --version >/dev/null
command -v dnsperf >/dev/null && command -v dnsmasq >/dev/null || scripts/setup.sh --test >&2

work="$(mktemp -d /tmp/dnsw-bench-sender-XXXX)"
nss="dnswsnds$$"; nsw="dnswsndw$$"
watch=""
cleanup() {
    [ -n "$watch" ] && kill -9 "$watch" 2>/dev/null || true
    for ns in "$nss" "$nsw"; do
        ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
        ip netns del "$ns" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
clang -O2 -Wall -Wextra -o "$work/sender-cost" benchmarks/sender-cost/sender-cost.c
for ns in "$nss" "$nsw"; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
ip netns exec "$nss" dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --listen-address=127.0.0.1 \
    --bind-interfaces --user=root --group=root --pid-file="$work/dnsmasq.pid" --cache-size=10000 \
    --address=/bench.dnsw.test/10.9.9.9 --log-facility=/dev/null &
for i in $(seq 1 1000); do echo "q$i.bench.dnsw.test A"; done > "$work/queries"
for try in $(seq 1 50); do   # dnsmasq answering is the readiness proof
    ip netns exec "$nss" dig +tries=1 +time=1 @127.0.0.1 ready.bench.dnsw.test >/dev/null 2>&1 && break
    [ "$try" -lt 50 ] || { echo "bench-sender: dnsmasq did not answer" >&2; exit 1; }
done

# utime + stime of a process, in clock ticks (proc(5): fields 14 and 15 of /proc/PID/stat, after the command's parentheses).
cpu_ticks() { awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$1/stat"; }

# Starts the watch and returns once it says it is watching (and, with BPF, that the program is attached).
start_watch() {
    : > "$work/watch.err"
    ip netns exec "$nsw" "$dnsw" leak watch --iface lo --duration 0 --format json --out "$work/events.jsonl" "$@" \
        > /dev/null 2> "$work/watch.err" &
    watch=$!
    until grep -q watching "$work/watch.err"; do
        kill -0 "$watch" 2>/dev/null || { cat "$work/watch.err" >&2; exit 1; }
        sleep 0.05
    done
}
# SIGTERM, not SIGINT: a background job of a non-interactive shell starts with SIGINT ignored.
stop_watch() {
    kill -TERM "$watch"; wait "$watch" || true; watch=""
}

for round in $(seq 1 "$rounds"); do
    for mode in none no-bpf bpf; do
        case $mode in
            no-bpf) start_watch --no-bpf ;;
            bpf) start_watch
                 grep -q "process attribution: bpf" "$work/watch.err" || { echo "bench-sender: BPF did not load:" >&2; cat "$work/watch.err" >&2; exit 1; } ;;
        esac
        ip netns exec "$nss" "$work/sender-cost" "$iterations" | sed "s/^/$round $mode /" >> "$work/calls"
        server_cpu=$(cpu_ticks "$(cat "$work/dnsmasq.pid")")
        ip netns exec "$nss" /usr/bin/time -f '%U %S' -o "$work/perf.time" \
            dnsperf -s 127.0.0.1 -d "$work/queries" -l 5 -Q "$qps" -c 4 > "$work/perf.txt" 2>&1 || true
        server_cpu=$(( $(cpu_ticks "$(cat "$work/dnsmasq.pid")") - server_cpu ))
        read -r cu cs < <(tail -1 "$work/perf.time")
        awk -v r="$round" -v m="$mode" -v sc="$server_cpu" -v hz="$(getconf CLK_TCK)" -v cc="$cu $cs" \
            '/Queries completed/ {n=$3} /Average Latency/ {l=$4}
             END {split(cc, c, " "); printf "%s %s %d %.0f %.2f %.2f\n", r, m, n, l*1e6, (c[1]+c[2])*1e6/n, sc/hz*1e6/n}' \
            "$work/perf.txt" >> "$work/dnsperf"
        [ "$mode" = none ] || stop_watch
    done
done

# Where the time goes in the kernel: one more pass with the programs attached and the kernel's run-time statistics on
# (BPF_ENABLE_STATS: on only while the descriptor it returns is open, so nothing stays changed), then the average
# time of one run of each program. Not part of the rounds above: the statistics cost a clock read per run.
start_watch
python3 - "$nss" "$work/sender-cost" "$iterations" <<'EOF2'
import ctypes, json, os, struct, subprocess, sys
libc = ctypes.CDLL(None, use_errno=True)
NR_BPF, BPF_ENABLE_STATS, BPF_STATS_RUN_TIME = 321, 32, 0   # x86_64 unistd.h; uapi/linux/bpf.h
attr = ctypes.create_string_buffer(struct.pack("I", BPF_STATS_RUN_TIME), 8)
fd = libc.syscall(NR_BPF, BPF_ENABLE_STATS, attr, 4)
if fd < 0:
    sys.exit(f"bench-sender: BPF_ENABLE_STATS failed: errno {ctypes.get_errno()}")
def ours():
    out = subprocess.run(["bpftool", "-j", "prog", "show"], check=True, capture_output=True, text=True).stdout
    return {p["name"]: (p.get("run_cnt", 0), p.get("run_time_ns", 0)) for p in json.loads(out) if p.get("name", "").startswith("dnsw_")}
programs = ["dnsw_connect4", "dnsw_sendmsg4", "dnsw_egress"]
print(f"{'kernel ns per run':<20} " + " ".join(f"{p:>22}" for p in programs))
try:
    for op in ["udp_sendto", "udp_send_connected", "udp_connect", "tcp_connect"]:
        before = ours()
        subprocess.run(["ip", "netns", "exec", sys.argv[1], sys.argv[2], sys.argv[3], op], check=True, stdout=subprocess.DEVNULL)
        after = ours()
        cells = []
        for name in programs:
            runs = after[name][0] - before[name][0]
            ns = after[name][1] - before[name][1]
            cells.append(f"{ns / runs:>8.0f} ({runs:>9} runs)" if runs else f"{'-':>22}")
        print(f"{op:<20} " + " ".join(cells))
finally:
    os.close(fd)
print()
EOF2
stop_watch

# Per operation and state: the median over rounds of each round's median and p99 (ns).
python3 - "$work/calls" "$work/dnsperf" <<'EOF'
import statistics, sys
calls = {}
for line in open(sys.argv[1]):
    rnd, mode, op, med, p90, p99, mean = line.split()
    calls.setdefault(op, {}).setdefault(mode, []).append((int(med), int(p99)))
print(f"{'call (ns)':<20} {'none p50':>9} {'no-bpf p50':>11} {'bpf p50':>9} {'bpf-no-bpf':>11} {'none p99':>9} {'no-bpf p99':>11} {'bpf p99':>9}")
for op, modes in calls.items():
    p50 = {m: statistics.median(v[0] for v in modes[m]) for m in modes}
    p99 = {m: statistics.median(v[1] for v in modes[m]) for m in modes}
    print(f"{op:<20} {p50['none']:>9.0f} {p50['no-bpf']:>11.0f} {p50['bpf']:>9.0f} {p50['bpf'] - p50['no-bpf']:>+11.0f} "
          f"{p99['none']:>9.0f} {p99['no-bpf']:>11.0f} {p99['bpf']:>9.0f}")
perf = {}
for line in open(sys.argv[2]):
    rnd, mode, queries, lat, client, server = line.split()
    perf.setdefault(mode, []).append((int(queries), int(lat), float(client), float(server)))
print()
print(f"{'dnsperf, median of rounds':<28} " + " ".join(f"{m:>10}" for m in perf))
for i, what in [(0, "queries answered"), (1, "avg latency (us)"), (2, "dnsperf CPU us/query"), (3, "dnsmasq CPU us/query")]:
    print(f"{what:<28} " + " ".join(f"{statistics.median(v[i] for v in rows):>10.{2 if i >= 2 else 0}f}" for rows in perf.values()))
EOF
