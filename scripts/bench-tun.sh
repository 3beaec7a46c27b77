#!/usr/bin/env bash
# TUN filter figures for docs/BENCHMARKS.md, in throwaway namespaces only: "host" runs dnsw tun, "client" is the
# namespace behind the filter (also joined to host by a plain veth), "inet" plays the internet (iperf3 -s, dnsmasq).
#   1. iperf3 TCP client→inet through the filter (firewall mode: TUN → dnsw → TUN → NAT) vs the plain veth path;
#   2. small UDP packets/s through the filter vs the veth path.
#   sudo scripts/bench-tun.sh [seconds] [--no-offload]
#   DNSW=path/to/dnsw overrides the binary (default: ./dnsw's native build).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "bench-tun: needs root (network namespaces)" >&2; exit 1; }
secs="${1:-5}"; extra="${2:-}"
command -v iperf3 >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y iperf3 >/dev/null
if [ -z "${DNSW:-}" ]; then [ -x out/dnsw ] || ./dnsw --help >/dev/null; DNSW="$(pwd)/out/dnsw"; fi
read -r -a dnsw <<< "$DNSW"
h="dnswbth$$"; c="dnswbtc$$"; i="dnswbti$$"
work="$(mktemp -d /tmp/dnsw-bench-tun-XXXX)"
pid=""
cleanup() {
    set +e
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    for ns in "$h" "$c" "$i"; do ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true; done
    ip netns exec "$h" "${dnsw[@]}" tun --netns "$c" --cleanup >/dev/null 2>&1 || true
    for ns in "$h" "$c" "$i"; do ip netns del "$ns" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
for ns in "$h" "$c" "$i"; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
ip -n "$h" link add eth0 type veth peer name eth0 netns "$i"
ip -n "$h" link add veth-c type veth peer name eth0 netns "$c"
ip -n "$h" addr add 10.72.0.1/24 dev eth0; ip -n "$h" link set eth0 up
ip -n "$h" addr add 10.73.0.1/24 dev veth-c; ip -n "$h" link set veth-c up
ip -n "$i" addr add 10.72.0.2/24 dev eth0; ip -n "$i" addr add 203.0.113.80/32 dev eth0; ip -n "$i" addr add 203.0.113.53/32 dev eth0
ip -n "$i" link set eth0 up; ip -n "$i" route add 10.73.0.0/24 via 10.72.0.1
ip -n "$c" addr add 10.73.0.2/24 dev eth0; ip -n "$c" link set eth0 up; ip -n "$c" route add default via 10.73.0.1
ip -n "$h" route add default via 10.72.0.2
ip netns exec "$h" sysctl -qw net.ipv4.ip_forward=1
ip netns exec "$i" dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --listen-address=203.0.113.53 \
    --bind-interfaces --user=root --group=root --pid-file="$work/dnsmasq.pid" --address=/bench.test/203.0.113.80 --local-ttl=600 --log-facility=/dev/null &
ip netns exec "$i" iperf3 -s -D -B 203.0.113.80 --logfile /dev/null
cat > "$work/udp.py" <<'PY'
import socket, sys, time
# Sends small datagrams as fast as one socket can for N seconds; the far side counts what arrived.
dst=(sys.argv[1], int(sys.argv[2])); secs=float(sys.argv[3])
s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); payload=b"x"*64; n=0; end=time.perf_counter()+secs
while time.perf_counter()<end:
    for _ in range(100):
        try: s.sendto(payload, dst); n+=1
        except OSError: pass
print(n)
PY
cat > "$work/sink.py" <<'PY'
import socket, sys
s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((sys.argv[1], int(sys.argv[2]))); s.settimeout(2); n=0
try:
    while True: s.recv(2048); n+=1
except socket.timeout: pass
print(n)
PY
udp() {
    ip netns exec "$i" python3 "$work/sink.py" 203.0.113.80 9999 > "$work/recv" & local sink=$!
    sleep 0.3
    local sent; sent=$(ip netns exec "$c" python3 "$work/udp.py" 203.0.113.80 9999 "$secs")
    wait "$sink"; local got; got=$(cat "$work/recv")
    echo "sent $sent, received $got: $((got / secs)) packets/s"
}
tcp() {
    ip netns exec "$c" iperf3 -c 203.0.113.80 -t "$secs" -J > "$work/iperf.json"
    python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["end"]; print("%.2f Gbit/s" % (e["sum_received"]["bits_per_second"]/1e9))' "$work/iperf.json"
}
echo "plain veth path (client → host → inet, routed, no filter), $secs s each:"
printf '  TCP: '; tcp
printf '  UDP 64-byte: '; udp
ip netns exec "$h" "${dnsw[@]}" tun --netns "$c" --mode firewall --upstream udp://203.0.113.53 $extra 2> "$work/tun.err" &
pid=$!
for _ in $(seq 1 100); do grep -q ready "$work/tun.err" && break; sleep 0.1; done
grep -q ready "$work/tun.err" || { cat "$work/tun.err" >&2; exit 1; }
ip netns exec "$c" dig +short @10.30.30.30 iperf.bench.test > /dev/null
echo "through dnsw tun (firewall mode${extra:+, $extra}), $secs s each:"
printf '  TCP: '; tcp
printf '  UDP 64-byte: '; udp
kill -TERM "$pid"; wait "$pid" || true; pid=""
echo "dnsw tun said:"; sed "s/^/  /" "$work/tun.err"
