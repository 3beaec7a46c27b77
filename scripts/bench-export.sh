#!/usr/bin/env bash
# ClickHouse export figures for docs/BENCHMARKS.md. A ClickHouse (Debian's clickhouse-server) runs in a throwaway
# namespace with its own data directory; everything talks to it over that namespace's loopback.
#   1. export throughput: ROWS leak rows through the exporter (queue, batcher, spool, HTTP JSONEachRow), and the same
#      rows inserted by clickhouse-client (native protocol) as the peer;
#   2. the capture pipeline's cost per packet with --export on and off, alternating in one run, on the 2 M-packet file;
#   3. spool bytes per event: leak watch exporting to a port nobody listens on, so every batch stays spooled.
#   sudo scripts/bench-export.sh [ROWS]       default 1000000
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "bench-export: needs root (network namespace)" >&2; exit 1; }
rows=${1:-1000000}
scripts/setup.sh --test >/dev/null          # clickhouse-client, and clickhouse-server taken into .tools/bin
export PATH="$PWD/.tools/bin:$PATH"
ns="dnswbenchch$$"
work="$(mktemp -d /tmp/dnsw-bench-export-XXXX)"
server=""
cleanup() {
    [ -n "$server" ] && kill -9 "$server" 2>/dev/null || true
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
mkdir -p "$work/data"
cat > "$work/users.xml" <<XML
<?xml version="1.0"?>
<yandex><profiles><default/></profiles>
<users><default><password></password><networks><ip>::/0</ip></networks><profile>default</profile><quota>default</quota></default></users>
<quotas><default/></quotas></yandex>
XML
cat > "$work/config.xml" <<XML
<?xml version="1.0"?>
<yandex><logger><level>warning</level><console>1</console></logger>
<http_port>28123</http_port><tcp_port>29000</tcp_port><listen_host>127.0.0.1</listen_host>
<path>$work/data/</path><tmp_path>$work/data/tmp/</tmp_path><user_files_path>$work/data/user_files/</user_files_path>
<users_config>$work/users.xml</users_config><default_profile>default</default_profile><default_database>default</default_database>
<timezone>UTC</timezone><mark_cache_size>67108864</mark_cache_size></yandex>
XML
ip netns exec "$ns" clickhouse-server --config-file="$work/config.xml" > "$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 300); do
    [ "$(ip netns exec "$ns" curl -s http://127.0.0.1:28123/ping 2>/dev/null)" = "Ok." ] && break
    sleep 0.1
done
url=clickhouse://127.0.0.1:28123/bench
chq() { ip netns exec "$ns" clickhouse-client --port 29000 --query "$1"; }

dotnet build -c Release benchmarks/DnsWarden.Benchmarks -nologo -v quiet >/dev/null
B=benchmarks/DnsWarden.Benchmarks/bin/Release/net10.0/DnsWarden.Benchmarks.dll
./dnsw --version >/dev/null
dnsw="$(pwd)/out/dnsw"

echo "== 1. export throughput, $rows rows"
for batch in 10000 50000; do
    chq "DROP TABLE IF EXISTS bench.leak_events" || true
    ip netns exec "$ns" dotnet $B export-throughput "$url" "$rows" "$batch" "$work/rows.jsonl"
done
chq "CREATE TABLE IF NOT EXISTS bench.peer AS bench.leak_events"
bytes=$(stat -c %s "$work/rows.jsonl")
start=$(date +%s.%N)
ip netns exec "$ns" clickhouse-client --port 29000 --query "INSERT INTO bench.peer FORMAT JSONEachRow" < "$work/rows.jsonl"
end=$(date +%s.%N)
python3 -c "t=$end-$start; print(f'peer clickhouse-client JSONEachRow: {$rows} rows ({$bytes} bytes) in {t:.3f} s = {$rows/t:.0f} rows/s')"
echo "stored: $(chq 'SELECT count() FROM bench.leak_events FINAL') exporter rows, $(chq 'SELECT count() FROM bench.peer') peer rows"

echo "== 1b. what FINAL costs on those rows (ReplacingMergeTree folding resent batches at query time), best of 3"
q() {
    local best=999 t
    for _ in 1 2 3; do
        t=$( { /usr/bin/time -f %e ip netns exec "$ns" timeout 120 clickhouse-client --port 29000 --query "$1" >/dev/null || true; } 2>&1 | tail -1)
        best=$(python3 -c "print(min($best, $t))")
    done
    echo "$best s  $1"
}
q "SELECT count() FROM bench.leak_events"
q "SELECT count() FROM bench.leak_events FINAL"
q "SELECT uniqExact(event_id) FROM bench.leak_events"
q "SELECT count() FROM (SELECT event_id FROM bench.leak_events GROUP BY event_id)"
q "SELECT host, dst, count() FROM bench.leak_events GROUP BY host, dst"
q "SELECT host, dst, count() FROM bench.leak_events FINAL GROUP BY host, dst"

echo "== 2. capture pipeline, export off vs on (2 M packets, alternating, 3 runs each)"
pcap=/tmp/dnsw-leak-2m.pcapng
[ -f "$pcap" ] || dotnet $B write-leak-capture "$pcap" 2000000
for i in 1 2 3; do
    for mode in off on; do
        extra=()
        [ "$mode" = on ] && extra=(--export "$url" --export-spool "$work/spool-watch" --export-create-schema)
        ip netns exec "$ns" /usr/bin/time -f "%e %U %S" -o "$work/time" "$dnsw" leak watch --pcap "$pcap" --profile full-tunnel \
            --format json "${extra[@]}" > /dev/null 2> "$work/watch.err" || true
        read -r e u s < <(tail -1 "$work/time")
        echo "export $mode: wall $e s, user $u s, sys $s s$( [ "$mode" = on ] && grep -o '[0-9]* rows sent in [0-9]* batches' "$work/watch.err" | sed 's/^/; /')"
    done
done

echo "== 3. spool bytes per event (server unreachable: everything stays spooled)"
ip netns exec "$ns" "$dnsw" leak watch --pcap "$pcap" --profile full-tunnel --format json \
    --export clickhouse://127.0.0.1:1/bench --export-spool "$work/spool-down" > /dev/null 2> "$work/down.err" || true
python3 - "$work/spool-down" <<'PY'
import os, sys
d = sys.argv[1]
files = [os.path.join(d, f) for f in os.listdir(d) if f.endswith('.batch')]
size = sum(os.path.getsize(f) for f in files)
rows = sum(int(open(f, 'rb').readline().split()[3]) for f in files)
print(f"spool: {len(files)} batches, {rows} rows, {size} bytes = {size / rows:.0f} bytes per event")
PY
