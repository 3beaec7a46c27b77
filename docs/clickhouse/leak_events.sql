-- Leak events (dnsw leak watch --export): one row per LeakEvent, after --privacy (docs/EVENTS.md, docs/EXPORT.md).
-- Works on ClickHouse 18.16 (Debian) and current releases: no LowCardinality, DateTime64 or table TTL.
-- A field that does not apply is '' (strings), 0 or -1 (numbers, as noted), [] (arrays).
-- ReplacingMergeTree: a batch sent again after a lost reply stores the same event_id twice until parts merge;
-- read with FINAL (or GROUP BY event_id) to count each event once.
CREATE TABLE IF NOT EXISTS dnsw.leak_events
(
    ts DateTime('UTC'),
    ts_ns UInt32,
    host String,
    sensor String,
    event_id UUID,
    kind String,
    leak_type String,
    severity String,
    transport String,
    confidence String,
    qname String,
    qtype String,
    base_domain String,
    iface String,
    route_class String,
    src String,
    dst String,
    process_pid Int32,
    process_name String,
    process_exe String,
    process_uid Int64,
    process_cmdline String,
    attribution_confidence String,
    attribution_reason String,
    evidence Array(String),
    frame Int64,
    server_name String,
    provider String,
    geo_country String,
    geo_asn Int64,
    correlation_id String,
    conn_iface String,
    conn_dst String,
    exfil_score Int32,
    exfil_queries Int32,
    exfil_unique_names Int32
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(ts)
ORDER BY (host, ts, event_id)
