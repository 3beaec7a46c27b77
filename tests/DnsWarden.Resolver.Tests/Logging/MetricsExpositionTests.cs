using System.Diagnostics;
using System.Globalization;
using DnsWarden.Resolver.Engine;
using DnsWarden.Resolver.Logging;
using DnsWarden.Resolver.Upstreams;

namespace DnsWarden.Resolver.Tests.Logging;

public sealed class MetricsExpositionTests
{
    // Checked by promtool check metrics and by the prometheus_client OpenMetrics parser when frozen.
    private const string GoldenPrometheus = """
        # HELP dnsw_queries_total Queries served, by the listener that received them and how they were dealt with.
        # TYPE dnsw_queries_total counter
        dnsw_queries_total{protocol="udp",outcome="forwarded"} 2
        dnsw_queries_total{protocol="udp",outcome="cached"} 1
        dnsw_queries_total{protocol="udp",outcome="local"} 0
        dnsw_queries_total{protocol="udp",outcome="blocked"} 0
        dnsw_queries_total{protocol="udp",outcome="sinkholed"} 0
        dnsw_queries_total{protocol="udp",outcome="blocked_exfiltration"} 0
        dnsw_queries_total{protocol="udp",outcome="servfail"} 0
        dnsw_queries_total{protocol="udp",outcome="malformed"} 0
        dnsw_queries_total{protocol="udp",outcome="dropped"} 0
        dnsw_queries_total{protocol="udp",outcome="overloaded"} 0
        dnsw_queries_total{protocol="udp",outcome="client_refused"} 0
        dnsw_queries_total{protocol="udp",outcome="rate_limited"} 0
        dnsw_queries_total{protocol="udp",outcome="stale"} 0
        dnsw_queries_total{protocol="tcp",outcome="forwarded"} 0
        dnsw_queries_total{protocol="tcp",outcome="cached"} 0
        dnsw_queries_total{protocol="tcp",outcome="local"} 0
        dnsw_queries_total{protocol="tcp",outcome="blocked"} 0
        dnsw_queries_total{protocol="tcp",outcome="sinkholed"} 0
        dnsw_queries_total{protocol="tcp",outcome="blocked_exfiltration"} 1
        dnsw_queries_total{protocol="tcp",outcome="servfail"} 0
        dnsw_queries_total{protocol="tcp",outcome="malformed"} 0
        dnsw_queries_total{protocol="tcp",outcome="dropped"} 0
        dnsw_queries_total{protocol="tcp",outcome="overloaded"} 0
        dnsw_queries_total{protocol="tcp",outcome="client_refused"} 0
        dnsw_queries_total{protocol="tcp",outcome="rate_limited"} 0
        dnsw_queries_total{protocol="tcp",outcome="stale"} 0
        dnsw_queries_total{protocol="tls",outcome="forwarded"} 0
        dnsw_queries_total{protocol="tls",outcome="cached"} 0
        dnsw_queries_total{protocol="tls",outcome="local"} 0
        dnsw_queries_total{protocol="tls",outcome="blocked"} 0
        dnsw_queries_total{protocol="tls",outcome="sinkholed"} 0
        dnsw_queries_total{protocol="tls",outcome="blocked_exfiltration"} 0
        dnsw_queries_total{protocol="tls",outcome="servfail"} 0
        dnsw_queries_total{protocol="tls",outcome="malformed"} 0
        dnsw_queries_total{protocol="tls",outcome="dropped"} 0
        dnsw_queries_total{protocol="tls",outcome="overloaded"} 0
        dnsw_queries_total{protocol="tls",outcome="client_refused"} 0
        dnsw_queries_total{protocol="tls",outcome="rate_limited"} 0
        dnsw_queries_total{protocol="tls",outcome="stale"} 0
        dnsw_queries_total{protocol="https",outcome="forwarded"} 0
        dnsw_queries_total{protocol="https",outcome="cached"} 0
        dnsw_queries_total{protocol="https",outcome="local"} 0
        dnsw_queries_total{protocol="https",outcome="blocked"} 0
        dnsw_queries_total{protocol="https",outcome="sinkholed"} 0
        dnsw_queries_total{protocol="https",outcome="blocked_exfiltration"} 0
        dnsw_queries_total{protocol="https",outcome="servfail"} 0
        dnsw_queries_total{protocol="https",outcome="malformed"} 0
        dnsw_queries_total{protocol="https",outcome="dropped"} 0
        dnsw_queries_total{protocol="https",outcome="overloaded"} 0
        dnsw_queries_total{protocol="https",outcome="client_refused"} 0
        dnsw_queries_total{protocol="https",outcome="rate_limited"} 0
        dnsw_queries_total{protocol="https",outcome="stale"} 0
        dnsw_queries_total{protocol="packet",outcome="forwarded"} 0
        dnsw_queries_total{protocol="packet",outcome="cached"} 0
        dnsw_queries_total{protocol="packet",outcome="local"} 0
        dnsw_queries_total{protocol="packet",outcome="blocked"} 0
        dnsw_queries_total{protocol="packet",outcome="sinkholed"} 0
        dnsw_queries_total{protocol="packet",outcome="blocked_exfiltration"} 0
        dnsw_queries_total{protocol="packet",outcome="servfail"} 0
        dnsw_queries_total{protocol="packet",outcome="malformed"} 0
        dnsw_queries_total{protocol="packet",outcome="dropped"} 0
        dnsw_queries_total{protocol="packet",outcome="overloaded"} 0
        dnsw_queries_total{protocol="packet",outcome="client_refused"} 0
        dnsw_queries_total{protocol="packet",outcome="rate_limited"} 0
        dnsw_queries_total{protocol="packet",outcome="stale"} 0
        # HELP dnsw_query_duration_seconds Time from receipt to answer.
        # TYPE dnsw_query_duration_seconds histogram
        dnsw_query_duration_seconds_bucket{le="0.0001"} 2
        dnsw_query_duration_seconds_bucket{le="0.00025"} 2
        dnsw_query_duration_seconds_bucket{le="0.0005"} 2
        dnsw_query_duration_seconds_bucket{le="0.001"} 2
        dnsw_query_duration_seconds_bucket{le="0.0025"} 3
        dnsw_query_duration_seconds_bucket{le="0.005"} 3
        dnsw_query_duration_seconds_bucket{le="0.01"} 3
        dnsw_query_duration_seconds_bucket{le="0.025"} 3
        dnsw_query_duration_seconds_bucket{le="0.05"} 3
        dnsw_query_duration_seconds_bucket{le="0.1"} 3
        dnsw_query_duration_seconds_bucket{le="0.25"} 3
        dnsw_query_duration_seconds_bucket{le="0.5"} 3
        dnsw_query_duration_seconds_bucket{le="1.0"} 3
        dnsw_query_duration_seconds_bucket{le="2.5"} 3
        dnsw_query_duration_seconds_bucket{le="+Inf"} 4
        dnsw_query_duration_seconds_count 4
        dnsw_query_duration_seconds_sum 3.00138
        # HELP dnsw_queries_in_flight Queries being served right now.
        # TYPE dnsw_queries_in_flight gauge
        dnsw_queries_in_flight 1
        # HELP dnsw_query_log_dropped_total Query log entries not written: the writer fell behind, or the log's byte budget was spent.
        # TYPE dnsw_query_log_dropped_total counter
        dnsw_query_log_dropped_total 1
        # HELP dnsw_rebinding_stripped_total Forwarded answers from which rebinding protection removed private, loopback or own addresses.
        # TYPE dnsw_rebinding_stripped_total counter
        dnsw_rebinding_stripped_total 0
        # HELP dnsw_cache_hits_total Cache lookups answered from the cache.
        # TYPE dnsw_cache_hits_total counter
        dnsw_cache_hits_total 3
        # HELP dnsw_cache_misses_total Cache lookups that found nothing usable.
        # TYPE dnsw_cache_misses_total counter
        dnsw_cache_misses_total 1
        # HELP dnsw_cache_inserts_total Responses stored in the cache.
        # TYPE dnsw_cache_inserts_total counter
        dnsw_cache_inserts_total 2
        # HELP dnsw_cache_evictions_total Entries evicted to stay within the cache's limits.
        # TYPE dnsw_cache_evictions_total counter
        dnsw_cache_evictions_total 0
        # HELP dnsw_cache_expirations_total Entries removed because their TTL ran out.
        # TYPE dnsw_cache_expirations_total counter
        dnsw_cache_expirations_total 1
        # HELP dnsw_cache_entries Entries in the cache now.
        # TYPE dnsw_cache_entries gauge
        dnsw_cache_entries 1
        # HELP dnsw_cache_bytes Memory the cache's entries account for, overhead included.
        # TYPE dnsw_cache_bytes gauge
        dnsw_cache_bytes 420
        # HELP dnsw_cache_hit_ratio Hits over lookups since start (0 before the first lookup).
        # TYPE dnsw_cache_hit_ratio gauge
        dnsw_cache_hit_ratio 0.75
        # HELP dnsw_cache_prefetches_total Cached answers due for a refresh in the last tenth of their TTL (cache.prefetch), by whether the refresh was stored.
        # TYPE dnsw_cache_prefetches_total counter
        dnsw_cache_prefetches_total{result="stored"} 0
        dnsw_cache_prefetches_total{result="failed"} 0
        # HELP dnsw_tracked_addresses Addresses from answers the IP tracker holds.
        # TYPE dnsw_tracked_addresses gauge
        dnsw_tracked_addresses 7
        # HELP dnsw_upstream_queries_total Exchanges started with the upstream.
        # TYPE dnsw_upstream_queries_total counter
        dnsw_upstream_queries_total{upstream="udp://198.51.100.53",protocol="udp"} 3
        dnsw_upstream_queries_total{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https"} 1
        # HELP dnsw_upstream_answers_total Exchanges that ended with a usable response.
        # TYPE dnsw_upstream_answers_total counter
        dnsw_upstream_answers_total{upstream="udp://198.51.100.53",protocol="udp"} 2
        dnsw_upstream_answers_total{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https"} 0
        # HELP dnsw_upstream_failures_total Exchanges that gave no usable answer, by reason.
        # TYPE dnsw_upstream_failures_total counter
        dnsw_upstream_failures_total{upstream="udp://198.51.100.53",protocol="udp",reason="timeout"} 1
        dnsw_upstream_failures_total{upstream="udp://198.51.100.53",protocol="udp",reason="connection_refused"} 0
        dnsw_upstream_failures_total{upstream="udp://198.51.100.53",protocol="udp",reason="network_error"} 0
        dnsw_upstream_failures_total{upstream="udp://198.51.100.53",protocol="udp",reason="tls_failure"} 0
        dnsw_upstream_failures_total{upstream="udp://198.51.100.53",protocol="udp",reason="pin_mismatch"} 0
        dnsw_upstream_failures_total{upstream="udp://198.51.100.53",protocol="udp",reason="http_error"} 0
        dnsw_upstream_failures_total{upstream="udp://198.51.100.53",protocol="udp",reason="bad_response"} 0
        dnsw_upstream_failures_total{upstream="udp://198.51.100.53",protocol="udp",reason="too_large"} 0
        dnsw_upstream_failures_total{upstream="udp://198.51.100.53",protocol="udp",reason="canceled"} 0
        dnsw_upstream_failures_total{upstream="udp://198.51.100.53",protocol="udp",reason="unavailable"} 0
        dnsw_upstream_failures_total{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https",reason="timeout"} 0
        dnsw_upstream_failures_total{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https",reason="connection_refused"} 0
        dnsw_upstream_failures_total{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https",reason="network_error"} 0
        dnsw_upstream_failures_total{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https",reason="tls_failure"} 0
        dnsw_upstream_failures_total{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https",reason="pin_mismatch"} 1
        dnsw_upstream_failures_total{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https",reason="http_error"} 0
        dnsw_upstream_failures_total{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https",reason="bad_response"} 0
        dnsw_upstream_failures_total{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https",reason="too_large"} 0
        dnsw_upstream_failures_total{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https",reason="canceled"} 0
        dnsw_upstream_failures_total{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https",reason="unavailable"} 0
        # HELP dnsw_upstream_truncated_retries_total Truncated UDP answers asked again over TCP.
        # TYPE dnsw_upstream_truncated_retries_total counter
        dnsw_upstream_truncated_retries_total{upstream="udp://198.51.100.53",protocol="udp"} 1
        dnsw_upstream_truncated_retries_total{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https"} 0
        # HELP dnsw_upstream_duration_seconds Latency of answered exchanges.
        # TYPE dnsw_upstream_duration_seconds histogram
        dnsw_upstream_duration_seconds_bucket{upstream="udp://198.51.100.53",protocol="udp",le="0.0001"} 0
        dnsw_upstream_duration_seconds_bucket{upstream="udp://198.51.100.53",protocol="udp",le="0.00025"} 0
        dnsw_upstream_duration_seconds_bucket{upstream="udp://198.51.100.53",protocol="udp",le="0.0005"} 0
        dnsw_upstream_duration_seconds_bucket{upstream="udp://198.51.100.53",protocol="udp",le="0.001"} 1
        dnsw_upstream_duration_seconds_bucket{upstream="udp://198.51.100.53",protocol="udp",le="0.0025"} 1
        dnsw_upstream_duration_seconds_bucket{upstream="udp://198.51.100.53",protocol="udp",le="0.005"} 1
        dnsw_upstream_duration_seconds_bucket{upstream="udp://198.51.100.53",protocol="udp",le="0.01"} 1
        dnsw_upstream_duration_seconds_bucket{upstream="udp://198.51.100.53",protocol="udp",le="0.025"} 1
        dnsw_upstream_duration_seconds_bucket{upstream="udp://198.51.100.53",protocol="udp",le="0.05"} 2
        dnsw_upstream_duration_seconds_bucket{upstream="udp://198.51.100.53",protocol="udp",le="0.1"} 2
        dnsw_upstream_duration_seconds_bucket{upstream="udp://198.51.100.53",protocol="udp",le="0.25"} 2
        dnsw_upstream_duration_seconds_bucket{upstream="udp://198.51.100.53",protocol="udp",le="0.5"} 2
        dnsw_upstream_duration_seconds_bucket{upstream="udp://198.51.100.53",protocol="udp",le="1.0"} 2
        dnsw_upstream_duration_seconds_bucket{upstream="udp://198.51.100.53",protocol="udp",le="2.5"} 2
        dnsw_upstream_duration_seconds_bucket{upstream="udp://198.51.100.53",protocol="udp",le="+Inf"} 2
        dnsw_upstream_duration_seconds_count{upstream="udp://198.51.100.53",protocol="udp"} 2
        dnsw_upstream_duration_seconds_sum{upstream="udp://198.51.100.53",protocol="udp"} 0.0309
        dnsw_upstream_duration_seconds_bucket{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https",le="0.0001"} 0
        dnsw_upstream_duration_seconds_bucket{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https",le="0.00025"} 0
        dnsw_upstream_duration_seconds_bucket{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https",le="0.0005"} 0
        dnsw_upstream_duration_seconds_bucket{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https",le="0.001"} 0
        dnsw_upstream_duration_seconds_bucket{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https",le="0.0025"} 0
        dnsw_upstream_duration_seconds_bucket{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https",le="0.005"} 0
        dnsw_upstream_duration_seconds_bucket{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https",le="0.01"} 0
        dnsw_upstream_duration_seconds_bucket{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https",le="0.025"} 0
        dnsw_upstream_duration_seconds_bucket{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https",le="0.05"} 0
        dnsw_upstream_duration_seconds_bucket{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https",le="0.1"} 0
        dnsw_upstream_duration_seconds_bucket{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https",le="0.25"} 0
        dnsw_upstream_duration_seconds_bucket{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https",le="0.5"} 0
        dnsw_upstream_duration_seconds_bucket{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https",le="1.0"} 0
        dnsw_upstream_duration_seconds_bucket{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https",le="2.5"} 0
        dnsw_upstream_duration_seconds_bucket{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https",le="+Inf"} 0
        dnsw_upstream_duration_seconds_count{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https"} 0
        dnsw_upstream_duration_seconds_sum{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https"} 0.0
        # HELP dnsw_upstream_up 1 when the health check counts the upstream as usable, else 0.
        # TYPE dnsw_upstream_up gauge
        dnsw_upstream_up{upstream="udp://198.51.100.53",protocol="udp"} 1
        dnsw_upstream_up{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https"} 0
        """;

    private const string GoldenOpenMetrics = """
        # HELP dnsw_queries Queries served, by the listener that received them and how they were dealt with.
        # TYPE dnsw_queries counter
        dnsw_queries_total{protocol="udp",outcome="forwarded"} 2
        dnsw_queries_created{protocol="udp",outcome="forwarded"} {CREATED}.0
        dnsw_queries_total{protocol="udp",outcome="cached"} 1
        dnsw_queries_created{protocol="udp",outcome="cached"} {CREATED}.0
        dnsw_queries_total{protocol="udp",outcome="local"} 0
        dnsw_queries_created{protocol="udp",outcome="local"} {CREATED}.0
        dnsw_queries_total{protocol="udp",outcome="blocked"} 0
        dnsw_queries_created{protocol="udp",outcome="blocked"} {CREATED}.0
        dnsw_queries_total{protocol="udp",outcome="sinkholed"} 0
        dnsw_queries_created{protocol="udp",outcome="sinkholed"} {CREATED}.0
        dnsw_queries_total{protocol="udp",outcome="blocked_exfiltration"} 0
        dnsw_queries_created{protocol="udp",outcome="blocked_exfiltration"} {CREATED}.0
        dnsw_queries_total{protocol="udp",outcome="servfail"} 0
        dnsw_queries_created{protocol="udp",outcome="servfail"} {CREATED}.0
        dnsw_queries_total{protocol="udp",outcome="malformed"} 0
        dnsw_queries_created{protocol="udp",outcome="malformed"} {CREATED}.0
        dnsw_queries_total{protocol="udp",outcome="dropped"} 0
        dnsw_queries_created{protocol="udp",outcome="dropped"} {CREATED}.0
        dnsw_queries_total{protocol="udp",outcome="overloaded"} 0
        dnsw_queries_created{protocol="udp",outcome="overloaded"} {CREATED}.0
        dnsw_queries_total{protocol="udp",outcome="client_refused"} 0
        dnsw_queries_created{protocol="udp",outcome="client_refused"} {CREATED}.0
        dnsw_queries_total{protocol="udp",outcome="rate_limited"} 0
        dnsw_queries_created{protocol="udp",outcome="rate_limited"} {CREATED}.0
        dnsw_queries_total{protocol="udp",outcome="stale"} 0
        dnsw_queries_created{protocol="udp",outcome="stale"} {CREATED}.0
        dnsw_queries_total{protocol="tcp",outcome="forwarded"} 0
        dnsw_queries_created{protocol="tcp",outcome="forwarded"} {CREATED}.0
        dnsw_queries_total{protocol="tcp",outcome="cached"} 0
        dnsw_queries_created{protocol="tcp",outcome="cached"} {CREATED}.0
        dnsw_queries_total{protocol="tcp",outcome="local"} 0
        dnsw_queries_created{protocol="tcp",outcome="local"} {CREATED}.0
        dnsw_queries_total{protocol="tcp",outcome="blocked"} 0
        dnsw_queries_created{protocol="tcp",outcome="blocked"} {CREATED}.0
        dnsw_queries_total{protocol="tcp",outcome="sinkholed"} 0
        dnsw_queries_created{protocol="tcp",outcome="sinkholed"} {CREATED}.0
        dnsw_queries_total{protocol="tcp",outcome="blocked_exfiltration"} 1
        dnsw_queries_created{protocol="tcp",outcome="blocked_exfiltration"} {CREATED}.0
        dnsw_queries_total{protocol="tcp",outcome="servfail"} 0
        dnsw_queries_created{protocol="tcp",outcome="servfail"} {CREATED}.0
        dnsw_queries_total{protocol="tcp",outcome="malformed"} 0
        dnsw_queries_created{protocol="tcp",outcome="malformed"} {CREATED}.0
        dnsw_queries_total{protocol="tcp",outcome="dropped"} 0
        dnsw_queries_created{protocol="tcp",outcome="dropped"} {CREATED}.0
        dnsw_queries_total{protocol="tcp",outcome="overloaded"} 0
        dnsw_queries_created{protocol="tcp",outcome="overloaded"} {CREATED}.0
        dnsw_queries_total{protocol="tcp",outcome="client_refused"} 0
        dnsw_queries_created{protocol="tcp",outcome="client_refused"} {CREATED}.0
        dnsw_queries_total{protocol="tcp",outcome="rate_limited"} 0
        dnsw_queries_created{protocol="tcp",outcome="rate_limited"} {CREATED}.0
        dnsw_queries_total{protocol="tcp",outcome="stale"} 0
        dnsw_queries_created{protocol="tcp",outcome="stale"} {CREATED}.0
        dnsw_queries_total{protocol="tls",outcome="forwarded"} 0
        dnsw_queries_created{protocol="tls",outcome="forwarded"} {CREATED}.0
        dnsw_queries_total{protocol="tls",outcome="cached"} 0
        dnsw_queries_created{protocol="tls",outcome="cached"} {CREATED}.0
        dnsw_queries_total{protocol="tls",outcome="local"} 0
        dnsw_queries_created{protocol="tls",outcome="local"} {CREATED}.0
        dnsw_queries_total{protocol="tls",outcome="blocked"} 0
        dnsw_queries_created{protocol="tls",outcome="blocked"} {CREATED}.0
        dnsw_queries_total{protocol="tls",outcome="sinkholed"} 0
        dnsw_queries_created{protocol="tls",outcome="sinkholed"} {CREATED}.0
        dnsw_queries_total{protocol="tls",outcome="blocked_exfiltration"} 0
        dnsw_queries_created{protocol="tls",outcome="blocked_exfiltration"} {CREATED}.0
        dnsw_queries_total{protocol="tls",outcome="servfail"} 0
        dnsw_queries_created{protocol="tls",outcome="servfail"} {CREATED}.0
        dnsw_queries_total{protocol="tls",outcome="malformed"} 0
        dnsw_queries_created{protocol="tls",outcome="malformed"} {CREATED}.0
        dnsw_queries_total{protocol="tls",outcome="dropped"} 0
        dnsw_queries_created{protocol="tls",outcome="dropped"} {CREATED}.0
        dnsw_queries_total{protocol="tls",outcome="overloaded"} 0
        dnsw_queries_created{protocol="tls",outcome="overloaded"} {CREATED}.0
        dnsw_queries_total{protocol="tls",outcome="client_refused"} 0
        dnsw_queries_created{protocol="tls",outcome="client_refused"} {CREATED}.0
        dnsw_queries_total{protocol="tls",outcome="rate_limited"} 0
        dnsw_queries_created{protocol="tls",outcome="rate_limited"} {CREATED}.0
        dnsw_queries_total{protocol="tls",outcome="stale"} 0
        dnsw_queries_created{protocol="tls",outcome="stale"} {CREATED}.0
        dnsw_queries_total{protocol="https",outcome="forwarded"} 0
        dnsw_queries_created{protocol="https",outcome="forwarded"} {CREATED}.0
        dnsw_queries_total{protocol="https",outcome="cached"} 0
        dnsw_queries_created{protocol="https",outcome="cached"} {CREATED}.0
        dnsw_queries_total{protocol="https",outcome="local"} 0
        dnsw_queries_created{protocol="https",outcome="local"} {CREATED}.0
        dnsw_queries_total{protocol="https",outcome="blocked"} 0
        dnsw_queries_created{protocol="https",outcome="blocked"} {CREATED}.0
        dnsw_queries_total{protocol="https",outcome="sinkholed"} 0
        dnsw_queries_created{protocol="https",outcome="sinkholed"} {CREATED}.0
        dnsw_queries_total{protocol="https",outcome="blocked_exfiltration"} 0
        dnsw_queries_created{protocol="https",outcome="blocked_exfiltration"} {CREATED}.0
        dnsw_queries_total{protocol="https",outcome="servfail"} 0
        dnsw_queries_created{protocol="https",outcome="servfail"} {CREATED}.0
        dnsw_queries_total{protocol="https",outcome="malformed"} 0
        dnsw_queries_created{protocol="https",outcome="malformed"} {CREATED}.0
        dnsw_queries_total{protocol="https",outcome="dropped"} 0
        dnsw_queries_created{protocol="https",outcome="dropped"} {CREATED}.0
        dnsw_queries_total{protocol="https",outcome="overloaded"} 0
        dnsw_queries_created{protocol="https",outcome="overloaded"} {CREATED}.0
        dnsw_queries_total{protocol="https",outcome="client_refused"} 0
        dnsw_queries_created{protocol="https",outcome="client_refused"} {CREATED}.0
        dnsw_queries_total{protocol="https",outcome="rate_limited"} 0
        dnsw_queries_created{protocol="https",outcome="rate_limited"} {CREATED}.0
        dnsw_queries_total{protocol="https",outcome="stale"} 0
        dnsw_queries_created{protocol="https",outcome="stale"} {CREATED}.0
        dnsw_queries_total{protocol="packet",outcome="forwarded"} 0
        dnsw_queries_created{protocol="packet",outcome="forwarded"} {CREATED}.0
        dnsw_queries_total{protocol="packet",outcome="cached"} 0
        dnsw_queries_created{protocol="packet",outcome="cached"} {CREATED}.0
        dnsw_queries_total{protocol="packet",outcome="local"} 0
        dnsw_queries_created{protocol="packet",outcome="local"} {CREATED}.0
        dnsw_queries_total{protocol="packet",outcome="blocked"} 0
        dnsw_queries_created{protocol="packet",outcome="blocked"} {CREATED}.0
        dnsw_queries_total{protocol="packet",outcome="sinkholed"} 0
        dnsw_queries_created{protocol="packet",outcome="sinkholed"} {CREATED}.0
        dnsw_queries_total{protocol="packet",outcome="blocked_exfiltration"} 0
        dnsw_queries_created{protocol="packet",outcome="blocked_exfiltration"} {CREATED}.0
        dnsw_queries_total{protocol="packet",outcome="servfail"} 0
        dnsw_queries_created{protocol="packet",outcome="servfail"} {CREATED}.0
        dnsw_queries_total{protocol="packet",outcome="malformed"} 0
        dnsw_queries_created{protocol="packet",outcome="malformed"} {CREATED}.0
        dnsw_queries_total{protocol="packet",outcome="dropped"} 0
        dnsw_queries_created{protocol="packet",outcome="dropped"} {CREATED}.0
        dnsw_queries_total{protocol="packet",outcome="overloaded"} 0
        dnsw_queries_created{protocol="packet",outcome="overloaded"} {CREATED}.0
        dnsw_queries_total{protocol="packet",outcome="client_refused"} 0
        dnsw_queries_created{protocol="packet",outcome="client_refused"} {CREATED}.0
        dnsw_queries_total{protocol="packet",outcome="rate_limited"} 0
        dnsw_queries_created{protocol="packet",outcome="rate_limited"} {CREATED}.0
        dnsw_queries_total{protocol="packet",outcome="stale"} 0
        dnsw_queries_created{protocol="packet",outcome="stale"} {CREATED}.0
        # HELP dnsw_query_duration_seconds Time from receipt to answer.
        # TYPE dnsw_query_duration_seconds histogram
        # UNIT dnsw_query_duration_seconds seconds
        dnsw_query_duration_seconds_bucket{le="0.0001"} 2
        dnsw_query_duration_seconds_bucket{le="0.00025"} 2
        dnsw_query_duration_seconds_bucket{le="0.0005"} 2
        dnsw_query_duration_seconds_bucket{le="0.001"} 2
        dnsw_query_duration_seconds_bucket{le="0.0025"} 3
        dnsw_query_duration_seconds_bucket{le="0.005"} 3
        dnsw_query_duration_seconds_bucket{le="0.01"} 3
        dnsw_query_duration_seconds_bucket{le="0.025"} 3
        dnsw_query_duration_seconds_bucket{le="0.05"} 3
        dnsw_query_duration_seconds_bucket{le="0.1"} 3
        dnsw_query_duration_seconds_bucket{le="0.25"} 3
        dnsw_query_duration_seconds_bucket{le="0.5"} 3
        dnsw_query_duration_seconds_bucket{le="1.0"} 3
        dnsw_query_duration_seconds_bucket{le="2.5"} 3
        dnsw_query_duration_seconds_bucket{le="+Inf"} 4
        dnsw_query_duration_seconds_count 4
        dnsw_query_duration_seconds_sum 3.00138
        dnsw_query_duration_seconds_created {CREATED}.0
        # HELP dnsw_queries_in_flight Queries being served right now.
        # TYPE dnsw_queries_in_flight gauge
        dnsw_queries_in_flight 1
        # HELP dnsw_query_log_dropped Query log entries not written: the writer fell behind, or the log's byte budget was spent.
        # TYPE dnsw_query_log_dropped counter
        dnsw_query_log_dropped_total 1
        dnsw_query_log_dropped_created {CREATED}.0
        # HELP dnsw_rebinding_stripped Forwarded answers from which rebinding protection removed private, loopback or own addresses.
        # TYPE dnsw_rebinding_stripped counter
        dnsw_rebinding_stripped_total 0
        dnsw_rebinding_stripped_created {CREATED}.0
        # HELP dnsw_cache_hits Cache lookups answered from the cache.
        # TYPE dnsw_cache_hits counter
        dnsw_cache_hits_total 3
        # HELP dnsw_cache_misses Cache lookups that found nothing usable.
        # TYPE dnsw_cache_misses counter
        dnsw_cache_misses_total 1
        # HELP dnsw_cache_inserts Responses stored in the cache.
        # TYPE dnsw_cache_inserts counter
        dnsw_cache_inserts_total 2
        # HELP dnsw_cache_evictions Entries evicted to stay within the cache's limits.
        # TYPE dnsw_cache_evictions counter
        dnsw_cache_evictions_total 0
        # HELP dnsw_cache_expirations Entries removed because their TTL ran out.
        # TYPE dnsw_cache_expirations counter
        dnsw_cache_expirations_total 1
        # HELP dnsw_cache_entries Entries in the cache now.
        # TYPE dnsw_cache_entries gauge
        dnsw_cache_entries 1
        # HELP dnsw_cache_bytes Memory the cache's entries account for, overhead included.
        # TYPE dnsw_cache_bytes gauge
        # UNIT dnsw_cache_bytes bytes
        dnsw_cache_bytes 420
        # HELP dnsw_cache_hit_ratio Hits over lookups since start (0 before the first lookup).
        # TYPE dnsw_cache_hit_ratio gauge
        dnsw_cache_hit_ratio 0.75
        # HELP dnsw_cache_prefetches Cached answers due for a refresh in the last tenth of their TTL (cache.prefetch), by whether the refresh was stored.
        # TYPE dnsw_cache_prefetches counter
        dnsw_cache_prefetches_total{result="stored"} 0
        dnsw_cache_prefetches_created{result="stored"} {CREATED}.0
        dnsw_cache_prefetches_total{result="failed"} 0
        dnsw_cache_prefetches_created{result="failed"} {CREATED}.0
        # HELP dnsw_tracked_addresses Addresses from answers the IP tracker holds.
        # TYPE dnsw_tracked_addresses gauge
        dnsw_tracked_addresses 7
        # HELP dnsw_upstream_queries Exchanges started with the upstream.
        # TYPE dnsw_upstream_queries counter
        dnsw_upstream_queries_total{upstream="udp://198.51.100.53",protocol="udp"} 3
        dnsw_upstream_queries_total{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https"} 1
        # HELP dnsw_upstream_answers Exchanges that ended with a usable response.
        # TYPE dnsw_upstream_answers counter
        dnsw_upstream_answers_total{upstream="udp://198.51.100.53",protocol="udp"} 2
        dnsw_upstream_answers_total{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https"} 0
        # HELP dnsw_upstream_failures Exchanges that gave no usable answer, by reason.
        # TYPE dnsw_upstream_failures counter
        dnsw_upstream_failures_total{upstream="udp://198.51.100.53",protocol="udp",reason="timeout"} 1
        dnsw_upstream_failures_total{upstream="udp://198.51.100.53",protocol="udp",reason="connection_refused"} 0
        dnsw_upstream_failures_total{upstream="udp://198.51.100.53",protocol="udp",reason="network_error"} 0
        dnsw_upstream_failures_total{upstream="udp://198.51.100.53",protocol="udp",reason="tls_failure"} 0
        dnsw_upstream_failures_total{upstream="udp://198.51.100.53",protocol="udp",reason="pin_mismatch"} 0
        dnsw_upstream_failures_total{upstream="udp://198.51.100.53",protocol="udp",reason="http_error"} 0
        dnsw_upstream_failures_total{upstream="udp://198.51.100.53",protocol="udp",reason="bad_response"} 0
        dnsw_upstream_failures_total{upstream="udp://198.51.100.53",protocol="udp",reason="too_large"} 0
        dnsw_upstream_failures_total{upstream="udp://198.51.100.53",protocol="udp",reason="canceled"} 0
        dnsw_upstream_failures_total{upstream="udp://198.51.100.53",protocol="udp",reason="unavailable"} 0
        dnsw_upstream_failures_total{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https",reason="timeout"} 0
        dnsw_upstream_failures_total{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https",reason="connection_refused"} 0
        dnsw_upstream_failures_total{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https",reason="network_error"} 0
        dnsw_upstream_failures_total{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https",reason="tls_failure"} 0
        dnsw_upstream_failures_total{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https",reason="pin_mismatch"} 1
        dnsw_upstream_failures_total{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https",reason="http_error"} 0
        dnsw_upstream_failures_total{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https",reason="bad_response"} 0
        dnsw_upstream_failures_total{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https",reason="too_large"} 0
        dnsw_upstream_failures_total{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https",reason="canceled"} 0
        dnsw_upstream_failures_total{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https",reason="unavailable"} 0
        # HELP dnsw_upstream_truncated_retries Truncated UDP answers asked again over TCP.
        # TYPE dnsw_upstream_truncated_retries counter
        dnsw_upstream_truncated_retries_total{upstream="udp://198.51.100.53",protocol="udp"} 1
        dnsw_upstream_truncated_retries_total{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https"} 0
        # HELP dnsw_upstream_duration_seconds Latency of answered exchanges.
        # TYPE dnsw_upstream_duration_seconds histogram
        # UNIT dnsw_upstream_duration_seconds seconds
        dnsw_upstream_duration_seconds_bucket{upstream="udp://198.51.100.53",protocol="udp",le="0.0001"} 0
        dnsw_upstream_duration_seconds_bucket{upstream="udp://198.51.100.53",protocol="udp",le="0.00025"} 0
        dnsw_upstream_duration_seconds_bucket{upstream="udp://198.51.100.53",protocol="udp",le="0.0005"} 0
        dnsw_upstream_duration_seconds_bucket{upstream="udp://198.51.100.53",protocol="udp",le="0.001"} 1
        dnsw_upstream_duration_seconds_bucket{upstream="udp://198.51.100.53",protocol="udp",le="0.0025"} 1
        dnsw_upstream_duration_seconds_bucket{upstream="udp://198.51.100.53",protocol="udp",le="0.005"} 1
        dnsw_upstream_duration_seconds_bucket{upstream="udp://198.51.100.53",protocol="udp",le="0.01"} 1
        dnsw_upstream_duration_seconds_bucket{upstream="udp://198.51.100.53",protocol="udp",le="0.025"} 1
        dnsw_upstream_duration_seconds_bucket{upstream="udp://198.51.100.53",protocol="udp",le="0.05"} 2
        dnsw_upstream_duration_seconds_bucket{upstream="udp://198.51.100.53",protocol="udp",le="0.1"} 2
        dnsw_upstream_duration_seconds_bucket{upstream="udp://198.51.100.53",protocol="udp",le="0.25"} 2
        dnsw_upstream_duration_seconds_bucket{upstream="udp://198.51.100.53",protocol="udp",le="0.5"} 2
        dnsw_upstream_duration_seconds_bucket{upstream="udp://198.51.100.53",protocol="udp",le="1.0"} 2
        dnsw_upstream_duration_seconds_bucket{upstream="udp://198.51.100.53",protocol="udp",le="2.5"} 2
        dnsw_upstream_duration_seconds_bucket{upstream="udp://198.51.100.53",protocol="udp",le="+Inf"} 2
        dnsw_upstream_duration_seconds_count{upstream="udp://198.51.100.53",protocol="udp"} 2
        dnsw_upstream_duration_seconds_sum{upstream="udp://198.51.100.53",protocol="udp"} 0.0309
        dnsw_upstream_duration_seconds_bucket{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https",le="0.0001"} 0
        dnsw_upstream_duration_seconds_bucket{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https",le="0.00025"} 0
        dnsw_upstream_duration_seconds_bucket{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https",le="0.0005"} 0
        dnsw_upstream_duration_seconds_bucket{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https",le="0.001"} 0
        dnsw_upstream_duration_seconds_bucket{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https",le="0.0025"} 0
        dnsw_upstream_duration_seconds_bucket{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https",le="0.005"} 0
        dnsw_upstream_duration_seconds_bucket{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https",le="0.01"} 0
        dnsw_upstream_duration_seconds_bucket{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https",le="0.025"} 0
        dnsw_upstream_duration_seconds_bucket{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https",le="0.05"} 0
        dnsw_upstream_duration_seconds_bucket{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https",le="0.1"} 0
        dnsw_upstream_duration_seconds_bucket{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https",le="0.25"} 0
        dnsw_upstream_duration_seconds_bucket{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https",le="0.5"} 0
        dnsw_upstream_duration_seconds_bucket{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https",le="1.0"} 0
        dnsw_upstream_duration_seconds_bucket{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https",le="2.5"} 0
        dnsw_upstream_duration_seconds_bucket{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https",le="+Inf"} 0
        dnsw_upstream_duration_seconds_count{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https"} 0
        dnsw_upstream_duration_seconds_sum{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https"} 0.0
        # HELP dnsw_upstream_up 1 when the health check counts the upstream as usable, else 0.
        # TYPE dnsw_upstream_up gauge
        dnsw_upstream_up{upstream="udp://198.51.100.53",protocol="udp"} 1
        dnsw_upstream_up{upstream="https://dns.example@198.51.100.54/dns-query",protocol="https"} 0
        # EOF
        """;

    private static string Normalize(string golden, ResolverMetrics metrics) =>
        golden.Replace("{CREATED}", metrics.CreatedUnixSeconds.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal) + "\n";

    [Fact]
    public void PrometheusTextMatchesGolden()
    {
        var (source, metrics) = MetricsFixtures.Build();
        Assert.Equal(Normalize(GoldenPrometheus, metrics), MetricsExposition.Render(source, MetricsFormat.Prometheus));
    }

    [Fact]
    public void OpenMetricsTextMatchesGolden()
    {
        var (source, metrics) = MetricsFixtures.Build();
        string text = MetricsExposition.Render(source, MetricsFormat.OpenMetrics);
        Assert.Equal(Normalize(GoldenOpenMetrics, metrics), text);
        Assert.EndsWith("\n# EOF\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void HistogramBucketsAreCumulativeAndInfEqualsCount()
    {
        var metrics = new ResolverMetrics();
        var rng = new Random(55);
        long sum = 0;
        for (int i = 0; i < 1_000; i++)
        {
            long us = (long)Math.Pow(10, rng.NextDouble() * 7);
            sum += us;
            metrics.Record(ListenerProtocol.Udp, QueryOutcome.Forwarded, us);
        }

        string text = MetricsExposition.Render(new MetricsSnapshotSource(metrics), MetricsFormat.Prometheus);
        long[] buckets = [.. Samples(text, "dnsw_query_duration_seconds_bucket").Select(s => long.Parse(s.Value, CultureInfo.InvariantCulture))];
        Assert.Equal(UpstreamStats.LatencyBucketsMicroseconds.Length + 1, buckets.Length);
        for (int i = 1; i < buckets.Length; i++)
        {
            Assert.True(buckets[i] >= buckets[i - 1], $"bucket {i} below bucket {i - 1}");
        }

        Assert.Equal(1_000, buckets[^1]);
        Assert.Equal("1000", Samples(text, "dnsw_query_duration_seconds_count").Single().Value);
        Assert.Equal(MetricsExposition.FormatSeconds(sum), Samples(text, "dnsw_query_duration_seconds_sum").Single().Value);

        // Each le bound is the recorded bound in seconds, ascending, +Inf last.
        string[] les = [.. Samples(text, "dnsw_query_duration_seconds_bucket").Select(s => s.Labels)];
        Assert.Equal("le=\"0.0001\"", les[0]);
        Assert.Equal("le=\"+Inf\"", les[^1]);

        // Against a count made here: bucket i holds every value at or below its bound.
        for (int i = 0; i < UpstreamStats.LatencyBucketsMicroseconds.Length; i++)
        {
            long expected = 0;
            for (int j = 0; j <= i; j++)
            {
                expected += metrics.LatencyBucket(j);
            }

            Assert.Equal(expected, buckets[i]);
        }
    }

    [Theory]
    [InlineData("plain", "plain")]
    [InlineData("a\\b", "a\\\\b")]
    [InlineData("say \"hi\"", "say \\\"hi\\\"")]
    [InlineData("two\nlines", "two\\nlines")]
    [InlineData("\\\"\n", "\\\\\\\"\\n")]
    public void LabelValuesAreEscaped(string value, string expected) =>
        Assert.Equal(expected, MetricsExposition.EscapeLabelValue(value));

    [Fact]
    public void UpstreamLabelIsEscapedInTheOutput()
    {
        var metrics = new ResolverMetrics();
        MetricsFixtures.FakeUpstream odd = MetricsFixtures.Upstream("https://dns.example@198.51.100.54/q\"x");
        string text = MetricsExposition.Render(new MetricsSnapshotSource(metrics, upstreams: () => [odd]), MetricsFormat.OpenMetrics);
        Assert.Contains("dnsw_upstream_queries_total{upstream=\"https://dns.example@198.51.100.54/q\\\"x\",protocol=\"https\"} 0\n", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, "0.0")]
    [InlineData(100, "0.0001")]
    [InlineData(250, "0.00025")]
    [InlineData(1, "0.000001")]
    [InlineData(1_000_000, "1.0")]
    [InlineData(2_500_000, "2.5")]
    [InlineData(3_001_380, "3.00138")]
    [InlineData(-1_500_000, "-1.5")]
    public void SecondsAreExactDecimals(long microseconds, string expected) =>
        Assert.Equal(expected, MetricsExposition.FormatSeconds(microseconds));

    [Theory]
    [InlineData(null, MetricsFormat.Prometheus)]
    [InlineData("", MetricsFormat.Prometheus)]
    [InlineData("*/*", MetricsFormat.Prometheus)]
    [InlineData("text/plain;version=0.0.4", MetricsFormat.Prometheus)]
    [InlineData("application/openmetrics-text", MetricsFormat.OpenMetrics)]
    [InlineData("application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1", MetricsFormat.OpenMetrics)]
    [InlineData("Application/OpenMetrics-Text; version=1.0.0", MetricsFormat.OpenMetrics)]
    [InlineData("application/openmetrics-text;q=0", MetricsFormat.Prometheus)]
    public void AcceptHeaderPicksTheFormat(string? accept, MetricsFormat expected) =>
        Assert.Equal(expected, MetricsExposition.Negotiate(accept));

    [Fact]
    public void MissingSourcesLeaveTheirFamiliesOut()
    {
        string text = MetricsExposition.Render(new MetricsSnapshotSource(new ResolverMetrics()), MetricsFormat.Prometheus);
        Assert.Contains("dnsw_queries_in_flight 0\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("dnsw_cache_", text, StringComparison.Ordinal);
        Assert.DoesNotContain("dnsw_tracked_addresses", text, StringComparison.Ordinal);
        Assert.DoesNotContain("dnsw_upstream_", text, StringComparison.Ordinal);
    }

    [Fact]
    public void CacheHitRatioIsZeroBeforeTheFirstLookup()
    {
        var stats = new DnsWarden.Resolver.Cache.DnsCacheStatistics(0, 0, 0, 0, 0, 0, 0);
        string text = MetricsExposition.Render(new MetricsSnapshotSource(new ResolverMetrics(), cache: () => stats), MetricsFormat.Prometheus);
        Assert.Contains("dnsw_cache_hit_ratio 0.0\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void EveryFamilyHasHelpAndTypeBeforeItsSamples()
    {
        var (source, _) = MetricsFixtures.Build();
        foreach (MetricsFormat format in Enum.GetValues<MetricsFormat>())
        {
            string family = "";
            var seen = new HashSet<string>();
            foreach (string line in MetricsExposition.Render(source, format).Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                if (line.StartsWith("# HELP ", StringComparison.Ordinal))
                {
                    family = line.Split(' ')[2];
                    Assert.True(seen.Add(family), $"{family} described twice");
                    continue;
                }

                if (line.StartsWith('#'))
                {
                    Assert.True(line == "# EOF" || line.Split(' ')[2] == family, line);
                    continue;
                }

                Assert.StartsWith(family, line, StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public async Task PromtoolAcceptsThePrometheusText()
    {
        string? promtool = FindTool("promtool");
        if (promtool is null)
        {
            Assert.Skip("promtool is not installed (Debian package prometheus)");
        }

        var (source, _) = MetricsFixtures.Build();
        (int exit, string output) = await RunAsync(promtool, ["check", "metrics"], MetricsExposition.Render(source, MetricsFormat.Prometheus));
        Assert.True(exit == 0, output);
    }

    [Fact]
    public async Task PythonClientParsesBothFormats()
    {
        string? python = File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : null;
        if (python is null || (await RunAsync(python, ["-c", "import prometheus_client"], "")).Exit != 0)
        {
            Assert.Skip("python3-prometheus-client is not installed");
        }

        var (source, _) = MetricsFixtures.Build();
        const string Script = """
            import sys
            from prometheus_client.openmetrics.parser import text_string_to_metric_families as om
            from prometheus_client.parser import text_string_to_metric_families as prom
            parse = om if sys.argv[1] == "om" else prom
            families = list(parse(sys.stdin.read()))
            print(len(families))
            """;
        (int exit, string output) = await RunAsync(python, ["-c", Script, "om"], MetricsExposition.Render(source, MetricsFormat.OpenMetrics));
        Assert.True(exit == 0, output);
        Assert.Equal("21", output.Trim());
        (exit, output) = await RunAsync(python, ["-c", Script, "prom"], MetricsExposition.Render(source, MetricsFormat.Prometheus));
        Assert.True(exit == 0, output);
        Assert.Equal("21", output.Trim());
    }

    internal static IEnumerable<(string Labels, string Value)> Samples(string text, string name)
    {
        foreach (string line in text.Split('\n'))
        {
            if (line.StartsWith(name + "{", StringComparison.Ordinal))
            {
                int close = line.LastIndexOf('}');
                yield return (line[(name.Length + 1)..close], line[(close + 2)..]);
            }
            else if (line.StartsWith(name + " ", StringComparison.Ordinal))
            {
                yield return ("", line[(name.Length + 1)..]);
            }
        }
    }

    internal static string? FindTool(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);

    private static async Task<(int Exit, string Output)> RunAsync(string file, string[] args, string stdin)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using Process p = Process.Start(psi)!;
        using StreamReader stdoutReader = p.StandardOutput;
        using StreamReader stderrReader = p.StandardError;
        Task<string> stdout = stdoutReader.ReadToEndAsync();
        Task<string> stderr = stderrReader.ReadToEndAsync();
        await p.StandardInput.WriteAsync(stdin);
        p.StandardInput.Close();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await p.WaitForExitAsync(timeout.Token);
        return (p.ExitCode, await stdout + await stderr);
    }
}
