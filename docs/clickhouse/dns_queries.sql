-- DNS queries served by dnsw proxy, the jail's stub and the TUN filter's virtual DNS (--export): one row per query
-- log entry, after --privacy (docs/RESOLVER.md "Query log", docs/EXPORT.md). Works on ClickHouse 18.16 and current
-- releases. exfil_score is -1 when the query was not scored; a field that does not apply is '' or [].
-- ReplacingMergeTree keyed by event_id: read with FINAL (or GROUP BY event_id) to count each query once.
CREATE TABLE IF NOT EXISTS dnsw.dns_queries
(
    ts DateTime('UTC'),
    ts_ns UInt32,
    host String,
    sensor String,
    event_id UUID,
    source String,
    protocol String,
    client String,
    qname String,
    base_domain String,
    qtype String,
    verdict String,
    reason String,
    rcode String,
    answers Array(String),
    upstream String,
    elapsed_us UInt32,
    exfil_score Int16
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(ts)
ORDER BY (host, ts, event_id)
