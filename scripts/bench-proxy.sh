#!/usr/bin/env bash
# Resolver figures for docs/BENCHMARKS.md: dnsperf on a throwaway namespace's loopback (nothing leaves it) against
#   cache:   dnsw proxy, unbound and dnsmasq answering 1,000 names from their warmed caches;
#   forward: dnsw proxy --no-cache, dnsdist (no packet cache) and dnsmasq (--cache-size=0) forwarding every
#            query to one authoritative upstream (dnsmasq with the names as host records).
# For each server: the peak (dnsperf unlimited, 8 clients, 500 outstanding) and the latency percentiles at 80 %
# of that peak and at a fixed 10,000 queries/s (dnsperf -Q, per-query latencies from -v).
#   sudo scripts/bench-proxy.sh [SECONDS]       default 8 s per run
# DNSW_BASELINE=/path/to/another/dnsw adds that build as a cache and a forward contender, measured right after this
# checkout's, so a change is compared with the build before it in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "bench-proxy: needs root (network namespace)" >&2; exit 1; }
secs="${1:-8}"
for pair in dnsdist:dnsdist unbound:unbound dnsmasq-base:dnsmasq dnsperf:dnsperf; do
    command -v "${pair#*:}" >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${pair%%:*}" >/dev/null
done
# dnsdist's package starts a service on the host; the benchmark runs its own inside the namespace.
command -v systemctl >/dev/null 2>&1 && systemctl disable --now dnsdist.service >/dev/null 2>&1 || true
[ -x out/dnsw ] || ./dnsw --help >/dev/null
dnsw="$(pwd)/out/dnsw"
ns="dnswbenchproxy$$"
work="$(mktemp -d /tmp/dnsw-bench-proxy-XXXX)"
cleanup() { ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true; ip netns del "$ns" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
run() { ip netns exec "$ns" "$@"; }

# The authority: 1,000 names as local data of an unbound on 127.0.0.2 with a 4 MiB receive buffer (dnsmasq's
# default-sized socket dropped bursts and made the authority, not the contender, the bottleneck).
for i in $(seq 1 1000); do echo "10.9.$((i / 250)).$((i % 250 + 1)) q$i.bench.test"; done > "$work/hosts"
awk '{print $2" A"}' "$work/hosts" > "$work/queries"
{
    printf 'server:\n  interface: 127.0.0.2\n  port: 53\n  do-ip6: no\n  access-control: 127.0.0.0/8 allow\n  chroot: ""\n'
    printf '  username: ""\n  directory: "%s"\n  pidfile: "%s/auth.pid"\n  use-syslog: no\n  logfile: ""\n  verbosity: 0\n' "$work" "$work"
    printf '  num-threads: 1\n  so-rcvbuf: 4m\n  local-zone: "bench.test." static\n'
    awk '{print "  local-data: \""$2". 300 IN A "$1"\""}' "$work/hosts"
} > "$work/auth.conf"
run unbound -d -c "$work/auth.conf" &

# Cache contenders.
cat > "$work/unbound.conf" <<CONF
server:
  interface: 127.0.0.3
  port: 53
  do-ip6: no
  access-control: 127.0.0.0/8 allow
  chroot: ""
  username: ""
  directory: "$work"
  pidfile: "$work/unbound.pid"
  use-syslog: no
  logfile: ""
  verbosity: 0
  module-config: "iterator"
  do-not-query-localhost: no
  num-threads: 2
  msg-cache-size: 16m
  rrset-cache-size: 32m
forward-zone:
  name: "bench.test."
  forward-addr: 127.0.0.2
CONF
run unbound -d -c "$work/unbound.conf" &
run dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --listen-address=127.0.0.4 --bind-interfaces \
    --user=root --group=root --pid-file="$work/fwd.pid" --cache-size=10000 --server=127.0.0.2 --log-facility=/dev/null &
run "$dnsw" proxy --listen 127.0.0.5:53 --upstream udp://127.0.0.2 2> "$work/dnsw-cache.err" &
# Forwarding contenders (no cache anywhere but the authority).
run dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --listen-address=127.0.0.6 --bind-interfaces \
    --user=root --group=root --pid-file="$work/fwd0.pid" --cache-size=0 --server=127.0.0.2 --log-facility=/dev/null &
cat > "$work/dnsdist.conf" <<CONF
setLocal("127.0.0.7:53")
newServer({address="127.0.0.2:53", checkName="q1.bench.test."})
setSecurityPollSuffix("")
CONF
run dnsdist --supervised --disable-syslog -C "$work/dnsdist.conf" > "$work/dnsdist.log" 2>&1 &
run "$dnsw" proxy --listen 127.0.0.8:53 --upstream udp://127.0.0.2 --no-cache 2> "$work/dnsw-fwd.err" &
baseline="${DNSW_BASELINE:-}"
if [ -n "$baseline" ]; then
    run "$baseline" proxy --listen 127.0.0.9:53 --upstream udp://127.0.0.2 2> "$work/base-cache.err" &
    run "$baseline" proxy --listen 127.0.0.10:53 --upstream udp://127.0.0.2 --no-cache 2> "$work/base-fwd.err" &
fi
sleep 3

# peak SERVER → qps;  latency SERVER QPS → "p50 p99 p999 answered%" in ms
peak() {
    run dnsperf -s "$1" -d "$work/queries" -l "$secs" -c 8 -T 2 -q 500 2>/dev/null | awk '/Queries per second/ {print int($4)}'
}
latency() {
    run dnsperf -s "$1" -d "$work/queries" -l "$secs" -c 8 -T 2 -q 500 -Q "$2" -v 2>/dev/null > "$work/lat.txt" || true
    python3 - "$work/lat.txt" <<'PY'
import sys
lat=[]; sent=0; done=0
for line in open(sys.argv[1]):
    p=line.split()
    if len(p)>=5 and p[0]=='>':
        try: lat.append(float(p[-1])*1000)
        except ValueError: pass
    if line.strip().startswith('Queries sent:'): sent=int(line.split()[2])
    if line.strip().startswith('Queries completed:'): done=int(line.split()[2])
lat.sort()
q=lambda f: lat[min(len(lat)-1,int(f*len(lat)))] if lat else float('nan')
print(f"{q(0.5):.3f} {q(0.99):.3f} {q(0.999):.3f} {100.0*done/max(sent,1):.2f}")
PY
}
measure() { # LABEL SERVER
    local p l
    run dnsperf -s "$2" -d "$work/queries" -n 2 -c 4 -q 100 >/dev/null 2>&1 || true   # warm caches
    p=$(peak "$2"); l=$(latency "$2" $((p * 8 / 10))); k=$(latency "$2" 10000)
    printf '%-26s %9s %9s %-34s %s\n' "$1" "$p" "$((p * 8 / 10))" "$l" "$k"
}
printf '%-26s %9s %9s %-34s %s\n' server peak_qps at_80pct "at 80%: p50 p99 p99.9 ms, answered%" "at 10k qps: p50 p99 p99.9 ms, answered%"
measure "cache: dnsw proxy" 127.0.0.5
[ -z "$baseline" ] || measure "cache: dnsw baseline" 127.0.0.9
measure "cache: unbound" 127.0.0.3
measure "cache: dnsmasq" 127.0.0.4
measure "forward: dnsw --no-cache" 127.0.0.8
[ -z "$baseline" ] || measure "forward: dnsw baseline" 127.0.0.10
measure "forward: dnsdist" 127.0.0.7
measure "forward: dnsmasq" 127.0.0.6
