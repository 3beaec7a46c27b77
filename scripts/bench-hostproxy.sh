#!/usr/bin/env bash
# Host proxy figures for docs/BENCHMARKS.md, in throwaway namespaces only: "host" runs dnsw jail --allow, "inet" plays
# the internet (dnsmasq answering *.bench.test with 203.0.113.80; openssl s_server with a CA made here; a Python
# HTTP/1.1 server for held connections). Side by side in one run:
#   1. HTTPS bulk download (256 MiB) from the host namespace vs from inside the jail through the proxy;
#   2. time to first byte of a small HTTPS file, 200 sequential requests, p50 and p90, both ways, also counted from the
#      name's answer (dnsmasq answers with a TTL of 300 s, as names on the internet have one); then the proxy's own
#      share, hop by hop, read off captures on both its sides;
#   3. 1,000 concurrent HTTP keep-alive connections held through the proxy, dnsw's resident memory before and after;
#   4. with --intercept (TLS ended in the proxy with a minted leaf, a second TLS to the server): bulk and time to first
#      byte again, the command trusting the jail's CA through CURL_CA_BUNDLE;
#   5. HTTP/2 inside interception (nghttpd, h2load): requests per second both ways, memory per h2 connection in use.
#   sudo scripts/bench-hostproxy.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "bench-hostproxy: needs root (network namespaces)" >&2; exit 1; }
[ -x out/dnsw ] || ./dnsw --help >/dev/null
dnsw="$(pwd)/out/dnsw"
h="dnswbph$$"; i="dnswbpi$$"
# Outside /tmp: the jail's /tmp is its own, and the jailed command reads the CA and the client from here.
work="$(mktemp -d "$(pwd)/out/bench-hostproxy-XXXX")"
chmod 1777 "$work"
cleanup() {
    for ns in "$h" "$i"; do ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true; ip netns del "$ns" 2>/dev/null || true; done
    "$dnsw" jail --cleanup >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$h"; ip netns add "$i"
ip -n "$h" link set lo up; ip -n "$i" link set lo up
ip -n "$h" link add eth0 type veth peer name eth0 netns "$i"
ip -n "$h" addr add 10.62.0.1/24 dev eth0; ip -n "$h" link set eth0 up
ip -n "$i" addr add 10.62.0.2/24 dev eth0; ip -n "$i" addr add 203.0.113.53/32 dev eth0; ip -n "$i" addr add 203.0.113.80/32 dev eth0
ip -n "$i" link set eth0 up
ip -n "$h" route add default via 10.62.0.2
cd "$work"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -subj /CN=bench-ca -days 1 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout web.key -out web.csr -subj /CN=web.bench.test -addext subjectAltName=DNS:web.bench.test 2>/dev/null
openssl x509 -req -in web.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -copy_extensions copy -out web.pem 2>/dev/null
mkdir -p www; head -c $((256 * 1024 * 1024)) /dev/zero > www/big.bin; echo small > www/small.txt
chmod -R a+rX "$work"; chmod 1777 "$work"
ip netns exec "$i" dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --listen-address=203.0.113.53 \
    --bind-interfaces --user=root --group=root --pid-file="$work/dnsmasq.pid" --address=/bench.test/203.0.113.80 --local-ttl=300 --log-facility=/dev/null &
(cd www && exec ip netns exec "$i" openssl s_server -quiet -WWW -accept 203.0.113.80:443 -cert ../web.pem -key ../web.key -naccept 100000) >/dev/null 2>&1 &
cat > held.py <<'PY'
import http.server, socketserver
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "3"); self.end_headers(); self.wfile.write(b"ok\n")
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    request_queue_size = 2048
S(("203.0.113.80", 80), H).serve_forever()
PY
ip netns exec "$i" python3 held.py &
cat > hold.py <<'PY'
import socket, sys, time, os
n = int(sys.argv[1]); socks = []
for _ in range(n):
    s = socket.create_connection(("web.bench.test", 80), timeout=30)
    s.sendall(b"GET / HTTP/1.1\r\nHost: web.bench.test\r\n\r\n")
    socks.append(s)
ok = sum(s.recv(4096).startswith(b"HTTP/1.1 200") for s in socks)
print(f"{ok}/{n} connections answered and held", flush=True)
open(sys.argv[2], "w").write("held\n")
while os.path.exists(sys.argv[2]):
    time.sleep(0.1)
PY
chmod a+r held.py hold.py
for _ in $(seq 1 100); do ip netns exec "$i" ss -lnt | grep -q '203.0.113.80:443' && ip netns exec "$i" ss -lnt | grep -q '203.0.113.80:80' && break; sleep 0.1; done
cat > ttfb.sh <<'SH'
ca=(--cacert "$1/ca.pem"); [ "${2:-}" = bundle ] && ca=(); [ "${2:-}" = jailca ] && ca=(--cacert "$(dirname "$CURL_CA_BUNDLE")/ca.pem")
# Two figures per connection: to the first byte, and from the name's answer to the first byte (what the proxy can add:
# the command's own lookup is the stub's, measured as the jail's hold in bench-jail.sh; the direct run has none).
for n in $(seq 1 200); do curl -s -o /dev/null -w '%{time_starttransfer} %{time_namelookup}\n' "${ca[@]}" https://web.bench.test/small.txt; done \
    | awk '{print $1, $1 - $2}' > "$1/ttfb.$$"
p() { sort -n | awk '{a[NR]=$1} END {printf "p50 %.2f ms, p90 %.2f ms", a[int(NR*0.5)]*1000, a[int(NR*0.9)]*1000}'; }
echo "$(cut -d' ' -f1 "$1/ttfb.$$" | p); after the name: $(cut -d' ' -f2 "$1/ttfb.$$" | p)"
rm -f "$1/ttfb.$$"
SH
bulk() { curl -s -o /dev/null -w '%{speed_download}' --cacert "$work/ca.pem" https://web.bench.test/big.bin | awk '{printf "%.0f MB/s\n", $1/1e6}'; }
export -f bulk; export work
jail=("$dnsw" jail --allow web.bench.test --upstream udp://203.0.113.53 --writable "$work" --)
echo "HTTPS bulk, 256 MiB, 3 runs each:"
for run in 1 2 3; do
    printf '  host namespace: '; ip netns exec "$h" bash -c "echo 203.0.113.80 web.bench.test > /dev/null; curl -s -o /dev/null -w '%{speed_download}' --resolve web.bench.test:443:203.0.113.80 --cacert $work/ca.pem https://web.bench.test/big.bin | awk '{printf \"%.0f MB/s\n\", \$1/1e6}'"
    printf '  through the jail proxy: '; ip netns exec "$h" "${jail[@]}" bash -c "curl -s -o /dev/null -w '%{speed_download}' --cacert $work/ca.pem https://web.bench.test/big.bin | awk '{printf \"%.0f MB/s\n\", \$1/1e6}'" 2>/dev/null
done
echo "HTTPS time to first byte, small file, 200 sequential connections:"
printf '  host namespace: '; ip netns exec "$h" bash -c "sed 's|curl |curl --resolve web.bench.test:443:203.0.113.80 |' $work/ttfb.sh > $work/ttfb-direct.sh; bash $work/ttfb-direct.sh $work"
printf '  through the jail proxy: '; ip netns exec "$h" "${jail[@]}" bash "$work/ttfb.sh" "$work" 2>/dev/null
# What the proxy itself adds, read off captures on both of its sides (curl's own figure varies by ±0.4 ms run to run,
# more than the proxy adds): the jail's loopback, where the command's connections reach the proxy, and the host
# namespace's eth0, where the proxy's reach the server. Per connection, the time the proxy holds bytes on the way to
# the first byte: ClientHello in → SYN out (decision), SYN → ClientHello out (connect), the server's first flight
# relayed, the command's Finished and request relayed, the response's first packet relayed.
cat > capture.sh <<'SH'
while [ ! -f "$1/go" ]; do sleep 0.05; done
for n in $(seq 1 100); do curl -s -o /dev/null --cacert "$1/ca.pem" https://web.bench.test/small.txt; done
SH
cat > hops.py <<'PY'
import collections, statistics, subprocess, sys
def flows(pcap, server_side):
    out = collections.OrderedDict()
    fields = subprocess.run(["tshark", "-r", pcap, "-T", "fields", "-e", "frame.time_epoch", "-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "tcp.len", "-e", "tcp.flags.syn"],
                            capture_output=True, text=True, check=True).stdout
    for line in fields.splitlines():
        t, sp, dp, n, syn = line.split("\t")
        up = dp == "443" if server_side else sp != "443"
        out.setdefault(sp if up else dp, []).append((float(t), up, int(n), syn == "1"))
    return list(out.values())
hops = collections.defaultdict(list)
for jail, host in list(zip(flows(sys.argv[1], False), flows(sys.argv[2], True)))[3:]:
    ju = [p for p in jail if p[1] and p[2]]; jd = [p for p in jail if not p[1] and p[2]]
    hu = [p for p in host if p[1] and p[2]]; hd = [p for p in host if not p[1] and p[2]]
    if len(ju) < 3 or len(hu) < 3:
        continue
    syn = host[0][0]
    response = next((p[0] for p in hd if p[0] > hu[2][0]), None)
    relayed = next((p[0] for p in jd if response is not None and p[0] > response), None)
    if relayed is None:
        continue  # the command's Finished and request went as one segment: the hops cannot be told apart
    h = [syn - ju[0][0], hu[0][0] - syn, jd[0][0] - hd[0][0], hu[2][0] - ju[2][0], relayed - response]
    for name, v in zip(["decision", "connect", "server's flight", "request", "response", "sum"], h + [sum(h)]):
        hops[name].append(v * 1e6)
for name, v in hops.items():
    v.sort()
    print(f"  {name}: p50 {statistics.median(v):.0f} µs, p90 {v[int(len(v) * 0.9)]:.0f} µs ({len(v)} connections)")
PY
echo "Time the proxy holds bytes on the way to the first byte, from captures on both its sides (100 connections):"
ip netns exec "$h" tcpdump -i eth0 -nn -U -w "$work/host.pcap" tcp port 443 2> "$work/host.tcpdump" & hostdump=$!
ip netns exec "$h" "${jail[@]}" bash "$work/capture.sh" "$work" 2>/dev/null & jpid=$!
cmd=""
for _ in $(seq 1 300); do cmd="$(pgrep -f "^bash $work/capture.sh" | tail -1 || true)"; [ -n "$cmd" ] && break; sleep 0.1; done
nsenter --net=/proc/"$cmd"/ns/net tcpdump -i lo -nn -U -w "$work/jail.pcap" tcp 2> "$work/jail.tcpdump" & jaildump=$!
for _ in $(seq 1 300); do grep -q "listening on" "$work/host.tcpdump" "$work/jail.tcpdump" 2>/dev/null && [ "$(grep -l "listening on" "$work/host.tcpdump" "$work/jail.tcpdump" | wc -l)" = 2 ] && break; sleep 0.1; done
touch "$work/go"; wait "$jpid" || true
kill -INT "$hostdump" "$jaildump"; wait "$hostdump" "$jaildump" 2>/dev/null || true
python3 hops.py "$work/jail.pcap" "$work/host.pcap"
echo "1,000 concurrent HTTP keep-alive connections through the proxy:"
flag="$work/holding"
ip netns exec "$h" "${jail[@]}" bash -c "ulimit -n 8192; python3 $work/hold.py 1000 $flag" 2>/dev/null &
jpid=$!
for _ in $(seq 1 300); do [ -f "$flag" ] && break; sleep 0.1; done
dnswpid="$(pgrep -f "^$dnsw jail --allow web.bench.test" | head -1)"
held="$(grep VmRSS /proc/"$dnswpid"/status | awk '{print $2}')"
rm -f "$flag"; wait "$jpid" || true
ip netns exec "$h" "${jail[@]}" bash -c "python3 $work/hold.py 1 $flag.idle" 2>/dev/null &
jpid=$!
for _ in $(seq 1 300); do [ -f "$flag.idle" ] && break; sleep 0.1; done
dnswpid="$(pgrep -f "^$dnsw jail --allow web.bench.test" | head -1)"
idle="$(grep VmRSS /proc/"$dnswpid"/status | awk '{print $2}')"
rm -f "$flag.idle"; wait "$jpid" || true
echo "  dnsw resident: ${idle} KiB with 1 connection held, ${held} KiB with 1,000: $(( (held - idle) / 999 )) KiB per connection"
intercept=("$dnsw" jail --intercept --upstream-ca "$work/ca.pem" --allow web.bench.test --upstream udp://203.0.113.53 --writable "$work" --)
echo "With --intercept (the command trusts the jail's CA through CURL_CA_BUNDLE):"
for run in 1 2 3; do
    printf '  HTTPS bulk, 256 MiB: '; ip netns exec "$h" "${intercept[@]}" bash -c "curl -s -o /dev/null -w '%{speed_download}' https://web.bench.test/big.bin | awk '{printf \"%.0f MB/s\n\", \$1/1e6}'" 2>/dev/null
done
# curl reads every root of the bundle it is given for each connection (the jail's bundle holds the system's ~140 roots
# beside the jail's CA): about 20 ms of curl's own on this machine, so the figure is also given trusting the jail's CA
# alone, as the direct run trusts the test CA alone.
printf '  time to first byte, 200 sequential connections, trusting the bundle: '; ip netns exec "$h" "${intercept[@]}" bash "$work/ttfb.sh" "$work" bundle 2>/dev/null
printf '  the same, trusting the jail'"'"'s CA alone: '; ip netns exec "$h" "${intercept[@]}" bash "$work/ttfb.sh" "$work" jailca 2>/dev/null
# HTTP/2 inside interception: nghttpd (h2 only) with the same certificate on port 8443; h2load (it does not check the
# certificate, so the jail's minted one needs no trust file). Direct from the host namespace by address, through the
# jail by name. While the jailed run holds 200 connections, dnsw's resident memory is read for the memory per h2
# connection (each holds two TLS sessions and two HPACK tables).
command -v h2load >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q nghttp2-client >/dev/null
ip netns exec "$i" nghttpd --htdocs="$work/www" --address=203.0.113.80 8443 "$work/web.key" "$work/web.pem" > /dev/null 2>&1 &
for _ in $(seq 1 100); do ip netns exec "$i" ss -lnt | grep -q '203.0.113.80:8443' && break; sleep 0.1; done
h2rate() { awk '/^finished in/ {r=$4} /^requests:/ {s=$8} END {printf "%s requests/s, %s of them answered\n", r, s}'; }
echo "HTTP/2 with --intercept, h2load, 20 connections × 10 streams, 20,000 requests of a 6-byte file:"
printf '  host namespace: '; ip netns exec "$h" h2load -n 20000 -c 20 -m 10 https://203.0.113.80:8443/small.txt 2>/dev/null | h2rate
printf '  through the jail proxy, intercepted: '; ip netns exec "$h" "${intercept[@]}" h2load -n 20000 -c 20 -m 10 https://web.bench.test:8443/small.txt 2>/dev/null | h2rate
ip netns exec "$h" "${intercept[@]}" h2load -D 6 -c 200 -m 1 https://web.bench.test:8443/small.txt > /dev/null 2>&1 &
jpid=$!
sleep 4
dnswpid="$(pgrep -f "^$dnsw jail --intercept" | head -1 || true)"
h2held="$(grep VmRSS /proc/"$dnswpid"/status | awk '{print $2}')"
wait "$jpid" || true
echo "  200 h2 connections in use through the proxy: dnsw resident ${h2held} KiB, against ${idle} KiB with one plain connection held: $(( (h2held - idle) / 200 )) KiB per connection"
