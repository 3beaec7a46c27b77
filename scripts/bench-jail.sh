#!/usr/bin/env bash
# Jail figures for docs/BENCHMARKS.md, in throwaway namespaces only: "host" runs dnsw jail, "inet" plays the internet
# (dnsmasq answering every *.bench.test with 203.0.113.80, a small HTTP server there).
#   1. DNS latency through the jail's stub in policy mode (every answer forwarded and its address inserted into the
#      jail's nftables set before release) vs the same queries straight from the host namespace to dnsmasq;
#   2. sequential HTTP connections per second from inside the jail vs from the host namespace.
#   sudo scripts/bench-jail.sh
#   sudo DNSW_BINARY=/path/to/dnsw scripts/bench-jail.sh   (another build, to compare two in the same conditions)
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "bench-jail: needs root (network namespaces)" >&2; exit 1; }
[ -n "${DNSW_BINARY:-}" ] || [ -x out/dnsw ] || ./dnsw --help >/dev/null
dnsw="${DNSW_BINARY:-$(pwd)/out/dnsw}"
h="dnswbjh$$"; i="dnswbji$$"
# Not under /tmp: the jail mounts a private, empty /tmp (and /var/tmp), so the query files are kept beside the build.
work="$(mktemp -d "$(pwd)/out/.bench-jail-XXXX")"
chmod 755 "$work"
cleanup() {
    for ns in "$h" "$i"; do ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true; ip netns del "$ns" 2>/dev/null || true; done
    "$dnsw" jail --cleanup >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$h"; ip netns add "$i"
ip -n "$h" link set lo up; ip -n "$i" link set lo up
ip -n "$h" link add eth0 type veth peer name eth0 netns "$i"
ip -n "$h" addr add 10.60.0.1/24 dev eth0; ip -n "$h" link set eth0 up
ip -n "$i" addr add 10.60.0.2/24 dev eth0; ip -n "$i" addr add 203.0.113.53/32 dev eth0; ip -n "$i" addr add 203.0.113.80/32 dev eth0
ip -n "$i" link set eth0 up
ip -n "$h" route add default via 10.60.0.2
ip netns exec "$i" dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --listen-address=203.0.113.53 \
    --bind-interfaces --user=root --group=root --pid-file="$work/dnsmasq.pid" --address=/bench.test/203.0.113.80 --log-facility=/dev/null &
mkdir -p "$work/www"; echo ok > "$work/www/index.html"
ip netns exec "$i" python3 -m http.server 80 --bind 203.0.113.80 --directory "$work/www" >/dev/null 2>&1 &
sleep 1
for n in $(seq 1 20000); do echo "q$n.bench.test A"; done > "$work/queries"
echo '{ "allow": ["bench.test"], "default_action": "block" }' > "$work/policy.json"
cat > "$work/pct.py" <<'PY'
import sys
lat=[float(l.split()[-1])*1000 for l in open(sys.argv[1]) if l.startswith('> NOERROR')]
lat.sort(); q=lambda f: lat[min(len(lat)-1,int(f*len(lat)))]
print(f"{len(lat)} answers, p50 {q(0.5):.3f} ms, p99 {q(0.99):.3f} ms, p99.9 {q(0.999):.3f} ms")
PY
cat > "$work/conn.py" <<'PY'
import socket, sys, time
n=int(sys.argv[2]); t=time.perf_counter(); ok=0
for _ in range(n):
    s=socket.create_connection((sys.argv[1],80),timeout=2); s.sendall(b"GET / HTTP/1.0\r\n\r\n")
    ok+= s.recv(64).startswith(b"HTTP/1.0 200"); s.close()
dt=time.perf_counter()-t
print(f"{ok}/{n} connections, {n/dt:.0f} per second")
PY
echo "DNS, 2000 queries/s for 5 s, unique names:"
printf '  direct from the host namespace: '
ip netns exec "$h" dnsperf -s 203.0.113.53 -d "$work/queries" -l 1 -Q 2000 -c 4 > /dev/null 2>&1 || true
ip netns exec "$h" dnsperf -s 203.0.113.53 -d "$work/queries" -l 5 -Q 2000 -c 4 -v > "$work/direct.txt" 2>&1 || true
python3 "$work/pct.py" "$work/direct.txt"
printf '  through dnsw jail (policy mode): '
# One second of other names first, in the same jail: the stub's code paths are compiled before the measured run.
for n in $(seq 1 5000); do echo "w$n.bench.test A"; done > "$work/warm"
ip netns exec "$h" "$dnsw" jail --mode policy --policy "$work/policy.json" --upstream udp://203.0.113.53 -- \
    bash -c "dnsperf -s 127.0.0.1 -d $work/warm -l 1 -Q 2000 -c 4 >/dev/null 2>&1; dnsperf -s 127.0.0.1 -d $work/queries -l 5 -Q 2000 -c 4 -v" > "$work/jail.txt" 2> "$work/jail.err" || true
python3 "$work/pct.py" "$work/jail.txt"
echo "Answer hold for the nftables set insertion, as the jail measured it (every answer of that run, warm-up included):"
grep "answers held" "$work/jail.err" | sed 's/^dnsw jail: /  /' || echo "  (no hold figures: see $work/jail.err)"
echo "HTTP connections to one address, sequential:"
printf '  from the host namespace: '
ip netns exec "$h" python3 "$work/conn.py" 203.0.113.80 500
printf '  from inside dnsw jail:  '
ip netns exec "$h" "$dnsw" jail --mode policy --policy "$work/policy.json" --upstream udp://203.0.113.53 -- \
    bash -c "getent hosts web.bench.test >/dev/null; python3 $work/conn.py 203.0.113.80 500" 2> "$work/jail2.err"
echo "Start-up, dnsw jail -- /bin/true, to its exit (hyperfine, inside the throwaway host namespace):"
command -v hyperfine >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q hyperfine >/dev/null
ip netns exec "$h" hyperfine -N --warmup 3 --runs 30 --style basic "$dnsw jail -- /bin/true" "/bin/true" 2>&1 | grep -E "Time|Range" | sed 's/^/  /'
