#!/usr/bin/env bash
# Soak of dnsw proxy, in a throwaway namespace (nothing leaves its loopback):
#   - dnsperf at 80 % of the proxy's measured peak for the whole run (1,000 names, cache on, serve-stale on);
#   - a flood of malformed and oversized datagrams (python3: random bytes, cut headers, 60 KB datagrams, responses)
#     and TCP clients that stall mid-message (a length prefix and half a query, then nothing);
#   - the upstream (dnsmasq) killed every PERIOD seconds and started again OUTAGE seconds later.
# It records the proxy's resident memory every 5 s (rss.csv), the answers during each outage (SERVFAIL or stale,
# never anything else), and how long after each restart the first answer from the upstream came back.
#   sudo scripts/soak-proxy.sh [DURATION_S] [PERIOD_S] [OUTAGE_S]     default 600 30 5
# The last line is "soak: ok" or "soak: FAILED: <why>"; the exit status says the same.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "soak-proxy: needs root (network namespace)" >&2; exit 1; }
duration="${1:-600}"
period="${2:-30}"
outage="${3:-5}"
for pair in dnsmasq-base:dnsmasq dnsperf:dnsperf bind9-dnsutils:dig python3:python3; do
    command -v "${pair#*:}" >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${pair%%:*}" >/dev/null
done
# The binary under test: DNSW_BINARY when set (the test suite's), else the native build ./dnsw makes.
dnsw="${DNSW_BINARY:-$(pwd)/out/dnsw}"
[ -x "$dnsw" ] || { ./dnsw --help >/dev/null; dnsw="$(pwd)/out/dnsw"; }
ns="dnswsoak$$"
work="$(mktemp -d /tmp/dnsw-soak-XXXX)"
cleanup() { exec 2>/dev/null; ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true; ip netns del "$ns" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
# A background job must be the program itself (not a function's subshell), so $! is its pid: ip netns exec execs.
run() { ip netns exec "$ns" "$@"; }
fail() { echo "soak: FAILED: $*"; exit 1; }

for i in $(seq 1 1000); do echo "--host-record=q$i.soak.test,10.9.$((i / 250)).$((i % 250 + 1))"; done > "$work/records"
awk -F'[=,]' '{print $2" A"}' "$work/records" > "$work/queries"
upstream_pid=""
start_upstream() {
    # shellcheck disable=SC2046
    ip netns exec "$ns" dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --listen-address=127.0.0.2 --bind-interfaces \
        --user=root --group=root --pid-file="$work/up.pid" --cache-size=0 --local-ttl=2 --local=/soak.test/ \
        $(cat "$work/records") --log-facility=/dev/null &
    upstream_pid=$!
}
# The first answer from the upstream through the proxy: a name no cache holds, NXDOMAIN from dnsmasq's own zone.
probe_upstream() { run dig @127.0.0.5 +time=1 +tries=1 "p$RANDOM$RANDOM.soak.test" A 2>/dev/null | grep -q 'status: NXDOMAIN'; }

start_upstream
cat > "$work/proxy.json" <<CONF
{
  "listen": ["127.0.0.5:53"],
  "upstreams": ["udp://127.0.0.2"],
  "upstream_timeout": "300ms",
  "cache": { "max_ttl": "2s", "serve_stale": "1h" },
  "tcp": { "max_connections": 256, "idle_timeout": "5s" }
}
CONF
ip netns exec "$ns" "$dnsw" proxy --config "$work/proxy.json" 2> "$work/proxy.err" &
proxy=$!
for _ in $(seq 1 100); do probe_upstream && break; done
probe_upstream || fail "the proxy did not answer through the upstream at start"

peak=$(run dnsperf -s 127.0.0.5 -d "$work/queries" -l 5 -c 8 -q 500 2>/dev/null | awk '/Queries per second/ {printf "%d", $4}')
rate=$(( peak * 8 / 10 ))
echo "soak: peak ${peak} q/s, load ${rate} q/s for ${duration} s; upstream down ${outage} s every ${period} s"

ip netns exec "$ns" dnsperf -s 127.0.0.5 -d "$work/queries" -l "$duration" -c 8 -q 500 -Q "$rate" > "$work/dnsperf.out" 2>&1 &
perf=$!

cat > "$work/flood.py" <<'PY'
import os, random, socket, struct, sys, time
end = time.time() + float(sys.argv[1])
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
held = []
rng = random.Random(7)
sent = 0
while time.time() < end:
    kind = rng.randrange(5)
    if kind == 0:
        data = os.urandom(rng.randrange(0, 600))
    elif kind == 1:
        data = os.urandom(rng.randrange(0, 12))                      # shorter than a header
    elif kind == 2:
        data = os.urandom(60000)                                   # oversized
    elif kind == 3:
        data = struct.pack("!HHHHHH", rng.randrange(65536), 0x8180, 1, 1, 0, 0) + os.urandom(40)  # a "response"
    else:
        data = struct.pack("!HHHHHH", rng.randrange(65536), 0x0100, 1, 0, 0, 0) + b"\x3f" + b"a" * 20  # a label past the end
    try:
        udp.sendto(data, ("127.0.0.5", 53))
        sent += 1
    except OSError:
        pass
    if sent % 200 == 0 and len(held) < 200:
        try:
            t = socket.create_connection(("127.0.0.5", 53), timeout=1)
            t.sendall(struct.pack("!H", 40) + os.urandom(10))        # a prefix and a quarter of a message, then nothing
            held.append(t)
        except OSError:
            pass
    time.sleep(0.0005)
print(f"flood: {sent} datagrams, {len(held)} stalled TCP clients")
PY
ip netns exec "$ns" python3 "$work/flood.py" "$duration" > "$work/flood.out" 2>&1 &
flood=$!

echo "seconds,rss_kib" > "$work/rss.csv"
t0=$(date +%s)
next_kill=$(( t0 + period ))
recoveries=()
bad_outage_answers=0
while kill -0 "$perf" 2>/dev/null; do
    now=$(date +%s)
    kill -0 "$proxy" 2>/dev/null || fail "the proxy died: $(tail -n 3 "$work/proxy.err")"
    echo "$(( now - t0 )),$(awk '/VmRSS/ {print $2}' "/proc/$proxy/status")" >> "$work/rss.csv"
    if [ "$now" -ge "$next_kill" ] && [ $(( now + outage + 5 )) -lt $(( t0 + duration )) ]; then
        kill -9 "$upstream_pid" 2>/dev/null || true; wait "$upstream_pid" 2>/dev/null || true
        # During the outage: a cached name is stale or SERVFAIL, a new name SERVFAIL; nothing else.
        for n in q1 q2 "new$RANDOM"; do
            status=$(run dig @127.0.0.5 +time=2 +tries=1 "$n.soak.test" A 2>/dev/null | sed -n 's/.*status: \([A-Z]*\).*/\1/p')
            case "$n:$status" in
                q*:NOERROR|*:SERVFAIL) ;;
                *) bad_outage_answers=$(( bad_outage_answers + 1 )); echo "soak: outage answer for $n: '$status'";;
            esac
        done
        sleep "$outage"
        start_upstream
        back=$(date +%s%N)
        until probe_upstream; do
            [ $(( $(date +%s%N) - back )) -lt 10000000000 ] || fail "no answer from the upstream 10 s after it came back"
        done
        recoveries+=( $(( ($(date +%s%N) - back) / 1000000 )) )
        next_kill=$(( $(date +%s) + period ))
    fi
    sleep 5
done
wait "$flood" || true
kill -0 "$proxy" 2>/dev/null || fail "the proxy died at the end: $(tail -n 3 "$work/proxy.err")"

cat "$work/flood.out"
grep -E 'Queries (sent|completed|lost)|Response codes|Queries per second' "$work/dnsperf.out" | sed 's/^ */dnsperf: /'
# Flat: over the second half (the heap, the cache and the held connections fill during the first), no sample more
# than a fifth above the half's first one.
half=$(( duration / 2 ))
rss_first=$(awk -F, -v half="$half" 'NR>1 && $1>=half {print $2; exit}' "$work/rss.csv")
rss_last=$(tail -n 1 "$work/rss.csv" | cut -d, -f2)
rss_max=$(awk -F, -v half="$half" 'NR>1 && $1>=half && $2>m {m=$2} END {print m}' "$work/rss.csv")
echo "soak: resident memory (s,KiB) $(tail -n +2 "$work/rss.csv" | tr '\n' ' ')"
echo "soak: rss at half time ${rss_first} KiB, highest after it ${rss_max} KiB, last ${rss_last} KiB"
echo "soak: upstream back to first upstream answer (ms): ${recoveries[*]:-none}"
[ "$bad_outage_answers" -eq 0 ] || fail "$bad_outage_answers answers during outages were neither SERVFAIL nor stale"
for r in "${recoveries[@]}"; do [ "$r" -le 1000 ] || fail "recovery took $r ms (over 1 s)"; done
[ "$rss_max" -le $(( rss_first * 6 / 5 )) ] || fail "resident memory grew in the second half, from ${rss_first} to ${rss_max} KiB"
echo "soak: ok"
