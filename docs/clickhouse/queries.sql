-- Example queries over what dnsw exports (docs/EXPORT.md). They run on ClickHouse 18.16 and current releases.
-- FINAL (or GROUP BY event_id) counts a batch that was sent twice once; the end-to-end tests run every query here.

-- Leaking hosts today: events by host and leak type, worst first.
SELECT host, leak_type, kind, count() AS events, min(ts) AS first, max(ts) AS last
FROM dnsw.leak_events FINAL
WHERE ts >= toDateTime(today())
GROUP BY host, leak_type, kind
ORDER BY events DESC
LIMIT 50;

-- Resolvers per host: where each host's DNS went outside the safe path.
SELECT host, dst, transport, count() AS events, uniqExact(base_domain) AS base_domains
FROM dnsw.leak_events FINAL
WHERE ts >= now() - 86400
GROUP BY host, dst, transport
ORDER BY host, events DESC;

-- Top processes behind leaks (live watch names them; capture files do not).
SELECT process_name, process_exe, uniqExact(host) AS hosts, count() AS events
FROM dnsw.leak_events FINAL
WHERE process_name != '' AND ts >= now() - 7 * 86400
GROUP BY process_name, process_exe
ORDER BY events DESC
LIMIT 20;

-- Exfiltration by base domain: the indicator's findings, and the queries the proxies and jails served under it.
SELECT base_domain, uniqExact(host) AS hosts, count() AS findings, max(exfil_score) AS max_score, sum(exfil_unique_names) AS unique_names
FROM dnsw.leak_events FINAL
WHERE kind = 'exfiltration'
GROUP BY base_domain
ORDER BY max_score DESC, findings DESC
LIMIT 20;

SELECT base_domain, uniqExact(host) AS hosts, count() AS queries, max(exfil_score) AS max_score,
       countIf(verdict = 'blocked_exfiltration') AS blocked
FROM dnsw.dns_queries FINAL
WHERE base_domain != '' AND exfil_score >= 0
GROUP BY base_domain
ORDER BY max_score DESC, queries DESC
LIMIT 20;

-- What the jails and TUN filters refused, per host and destination.
SELECT host, source, kind, protocol, dst, port, count() AS packets
FROM dnsw.guard_decisions FINAL
GROUP BY host, source, kind, protocol, dst, port
ORDER BY packets DESC
LIMIT 50;
