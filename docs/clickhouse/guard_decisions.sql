-- Packets the jail (nftables, NFLOG) and the TUN filter refused (--export): one row per refused packet
-- (docs/JAIL.md, docs/TUN.md, docs/EXPORT.md). kind: unresolved, quic, dot, no-service (as the exit summary names
-- them); port 0 when the packet had no transport header. Works on ClickHouse 18.16 and current releases.
-- ReplacingMergeTree keyed by event_id: read with FINAL (or GROUP BY event_id) to count each packet once.
CREATE TABLE IF NOT EXISTS dnsw.guard_decisions
(
    ts DateTime('UTC'),
    ts_ns UInt32,
    host String,
    sensor String,
    event_id UUID,
    source String,
    decision String,
    kind String,
    protocol String,
    dst String,
    port UInt16
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(ts)
ORDER BY (host, ts, event_id)
