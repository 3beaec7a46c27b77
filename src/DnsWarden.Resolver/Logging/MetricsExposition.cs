using System.Globalization;
using System.Text;
using DnsWarden.Policy;
using DnsWarden.Resolver.Cache;
using DnsWarden.Resolver.Engine;
using DnsWarden.Resolver.Upstreams;

namespace DnsWarden.Resolver.Logging;

/// <summary>The two text formats a scraper may ask for.</summary>
public enum MetricsFormat : byte
{
    /// <summary>Prometheus text exposition format 0.0.4 (<c>text/plain; version=0.0.4</c>).</summary>
    Prometheus,

    /// <summary>OpenMetrics 1.0 text (<c>application/openmetrics-text; version=1.0.0</c>), ending with <c># EOF</c>.</summary>
    OpenMetrics,
}

/// <summary>
/// Renders the resolver's metrics (docs/RESOLVER.md, "Metrics") as Prometheus text 0.0.4 or OpenMetrics 1.0.
/// Only raw counters, gauges and histograms: rates and ratios over time are PromQL's job, except
/// <c>dnsw_cache_hit_ratio</c>, kept for people reading the page by eye.
/// </summary>
public static class MetricsExposition
{
    public const string PrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";
    public const string OpenMetricsContentType = "application/openmetrics-text; version=1.0.0; charset=utf-8";

    private static readonly QueryOutcome[] s_outcomes = Enum.GetValues<QueryOutcome>();
    private static readonly ListenerProtocol[] s_protocols = Enum.GetValues<ListenerProtocol>();
    private static readonly UpstreamError[] s_failureReasons = [.. Enum.GetValues<UpstreamError>().Where(static e => e != UpstreamError.None)];

    public static string ContentType(MetricsFormat format) =>
        format == MetricsFormat.OpenMetrics ? OpenMetricsContentType : PrometheusContentType;

    /// <summary>OpenMetrics when the Accept header names it, else Prometheus 0.0.4 (what every scraper understands).</summary>
    public static MetricsFormat Negotiate(string? accept)
    {
        if (accept is null)
        {
            return MetricsFormat.Prometheus;
        }

        foreach (string part in accept.Split(','))
        {
            string[] fields = part.Split(';');
            if (!fields[0].Trim().Equals("application/openmetrics-text", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            // q=0 means "not this one" (RFC 9110 §12.4.2).
            bool refused = fields.Skip(1).Any(static f =>
            {
                string p = f.Trim();
                return p.StartsWith("q=", StringComparison.OrdinalIgnoreCase)
                    && double.TryParse(p.AsSpan(2), NumberStyles.Float, CultureInfo.InvariantCulture, out double q)
                    && q <= 0;
            });
            if (!refused)
            {
                return MetricsFormat.OpenMetrics;
            }
        }

        return MetricsFormat.Prometheus;
    }

    public static string Render(MetricsSnapshotSource source, MetricsFormat format)
    {
        ArgumentNullException.ThrowIfNull(source);
        var r = new Renderer(format);
        ResolverMetrics m = source.Metrics;
        long created = m.CreatedUnixSeconds;

        r.Family("dnsw_queries_total", "counter", "Queries served, by the listener that received them and how they were dealt with.");
        foreach (ListenerProtocol protocol in s_protocols)
        {
            foreach (QueryOutcome outcome in s_outcomes)
            {
                string labels = Labels(("protocol", QueryLogJson.FormatProtocol(protocol)), ("outcome", QueryLogJson.FormatVerdict(outcome)));
                r.Counter(labels, m.Count(protocol, outcome), created);
            }
        }

        r.Family("dnsw_query_duration_seconds", "histogram", "Time from receipt to answer.", "seconds");
        r.Histogram("", m.LatencyBucket, m.LatencySumMicroseconds, created);

        r.Family("dnsw_queries_in_flight", "gauge", "Queries being served right now.");
        r.Sample("", "", m.InFlight);

        r.Family("dnsw_query_log_dropped_total", "counter", "Query log entries not written: the writer fell behind, or the log's byte budget was spent.");
        r.Counter("", m.QueryLogDropped, created);

        r.Family("dnsw_rebinding_stripped_total", "counter", "Forwarded answers from which rebinding protection removed private, loopback or own addresses.");
        r.Counter("", m.RebindingStrips, created);

        if (source.CacheStatistics() is { } cache)
        {
            RenderCache(r, cache);
            r.Family("dnsw_cache_prefetches_total", "counter", "Cached answers due for a refresh in the last tenth of their TTL (cache.prefetch), by whether the refresh was stored.");
            r.Counter(Labels(("result", "stored")), m.Prefetches, created);
            r.Counter(Labels(("result", "failed")), m.PrefetchesFailed, created);
        }

        if (source.HasTracker)
        {
            r.Family("dnsw_tracked_addresses", "gauge", "Addresses from answers the IP tracker holds.");
            r.Sample("", "", source.TrackerCount());
        }

        IReadOnlyList<IDnsUpstream> upstreams = source.Upstreams();
        if (upstreams.Count > 0)
        {
            RenderUpstreams(r, source, upstreams);
        }

        foreach (MetricFamily family in source.Extra())
        {
            r.Family(family.Name, family.Type, family.Help);
            foreach (MetricSample sample in family.Samples)
            {
                string labels = sample.LabelName is null ? "" : Labels((sample.LabelName, sample.LabelValue ?? ""));
                if (family.Type == "counter")
                {
                    r.Counter(labels, sample.Value, null);
                }
                else
                {
                    r.Sample("", labels, sample.Value);
                }
            }
        }

        return r.Finish();
    }

    /// <summary>Escapes a label value: backslash, double quote and line feed (the same in both formats).</summary>
    public static string EscapeLabelValue(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value.AsSpan().IndexOfAny('\\', '"', '\n') < 0)
        {
            return value;
        }

        var sb = new StringBuilder(value.Length + 8);
        foreach (char c in value)
        {
            _ = c switch
            {
                '\\' => sb.Append(@"\\"),
                '"' => sb.Append("\\\""),
                '\n' => sb.Append(@"\n"),
                _ => sb.Append(c),
            };
        }

        return sb.ToString();
    }

    /// <summary>Microseconds as seconds in decimal, exactly and always with a fraction: 250 → <c>0.00025</c>, 1000000 → <c>1.0</c>.</summary>
    public static string FormatSeconds(long microseconds)
    {
        long whole = Math.DivRem(microseconds, 1_000_000, out long fraction);
        string sign = microseconds < 0 ? "-" : "";
        string w = Math.Abs(whole).ToString(CultureInfo.InvariantCulture);
        if (fraction == 0)
        {
            return sign + w + ".0";
        }

        return sign + w + "." + Math.Abs(fraction).ToString("D6", CultureInfo.InvariantCulture).TrimEnd('0');
    }

    public static string UpstreamProtocolName(UpstreamProtocol protocol) => protocol switch
    {
        UpstreamProtocol.Udp => "udp",
        UpstreamProtocol.Tcp => "tcp",
        UpstreamProtocol.Tls => "tls",
        UpstreamProtocol.Https => "https",
        _ => "unknown",
    };

    public static string FailureReasonName(UpstreamError error) => error switch
    {
        UpstreamError.None => "none",
        UpstreamError.Timeout => "timeout",
        UpstreamError.ConnectionRefused => "connection_refused",
        UpstreamError.NetworkError => "network_error",
        UpstreamError.TlsFailure => "tls_failure",
        UpstreamError.PinMismatch => "pin_mismatch",
        UpstreamError.HttpError => "http_error",
        UpstreamError.BadResponse => "bad_response",
        UpstreamError.TooLarge => "too_large",
        UpstreamError.Canceled => "canceled",
        UpstreamError.Unavailable => "unavailable",
        _ => "unknown",
    };

    private static void RenderCache(Renderer r, DnsCacheStatistics cache)
    {
        r.Family("dnsw_cache_hits_total", "counter", "Cache lookups answered from the cache.");
        r.Counter("", cache.Hits, null);
        r.Family("dnsw_cache_misses_total", "counter", "Cache lookups that found nothing usable.");
        r.Counter("", cache.Misses, null);
        r.Family("dnsw_cache_inserts_total", "counter", "Responses stored in the cache.");
        r.Counter("", cache.Inserts, null);
        r.Family("dnsw_cache_evictions_total", "counter", "Entries evicted to stay within the cache's limits.");
        r.Counter("", cache.Evictions, null);
        r.Family("dnsw_cache_expirations_total", "counter", "Entries removed because their TTL ran out.");
        r.Counter("", cache.Expirations, null);
        r.Family("dnsw_cache_entries", "gauge", "Entries in the cache now.");
        r.Sample("", "", cache.Entries);
        r.Family("dnsw_cache_bytes", "gauge", "Memory the cache's entries account for, overhead included.", "bytes");
        r.Sample("", "", cache.Bytes);

        // For eyes only: rate(hits)/rate(hits+misses) in PromQL is the figure to graph.
        long lookups = cache.Hits + cache.Misses;
        r.Family("dnsw_cache_hit_ratio", "gauge", "Hits over lookups since start (0 before the first lookup).");
        r.Sample("", "", lookups == 0 ? "0.0" : FormatDouble((double)cache.Hits / lookups));
    }

    private static void RenderUpstreams(Renderer r, MetricsSnapshotSource source, IReadOnlyList<IDnsUpstream> upstreams)
    {
        string[] labels = new string[upstreams.Count];
        for (int i = 0; i < upstreams.Count; i++)
        {
            UpstreamConfig c = upstreams[i].Config;
            labels[i] = Labels(("upstream", c.Url), ("protocol", UpstreamProtocolName(c.Protocol)));
        }

        r.Family("dnsw_upstream_queries_total", "counter", "Exchanges started with the upstream.");
        for (int i = 0; i < upstreams.Count; i++)
        {
            r.Counter(labels[i], upstreams[i].Stats.Queries, null);
        }

        r.Family("dnsw_upstream_answers_total", "counter", "Exchanges that ended with a usable response.");
        for (int i = 0; i < upstreams.Count; i++)
        {
            r.Counter(labels[i], upstreams[i].Stats.Answers, null);
        }

        r.Family("dnsw_upstream_failures_total", "counter", "Exchanges that gave no usable answer, by reason.");
        for (int i = 0; i < upstreams.Count; i++)
        {
            foreach (UpstreamError reason in s_failureReasons)
            {
                r.Counter(labels[i] + "," + Labels(("reason", FailureReasonName(reason))), upstreams[i].Stats.Failures(reason), null);
            }
        }

        r.Family("dnsw_upstream_truncated_retries_total", "counter", "Truncated UDP answers asked again over TCP.");
        for (int i = 0; i < upstreams.Count; i++)
        {
            r.Counter(labels[i], upstreams[i].Stats.TruncatedRetries, null);
        }

        r.Family("dnsw_upstream_duration_seconds", "histogram", "Latency of answered exchanges.", "seconds");
        for (int i = 0; i < upstreams.Count; i++)
        {
            UpstreamStats stats = upstreams[i].Stats;
            r.Histogram(labels[i], stats.BucketCount, stats.LatencySumMicroseconds, null);
        }

        if (source.HasHealth)
        {
            r.Family("dnsw_upstream_up", "gauge", "1 when the health check counts the upstream as usable, else 0.");
            for (int i = 0; i < upstreams.Count; i++)
            {
                r.Sample("", labels[i], source.IsUp(upstreams[i]) ? 1 : 0);
            }
        }
    }

    private static string Labels(params ReadOnlySpan<(string Name, string Value)> pairs)
    {
        var sb = new StringBuilder();
        foreach ((string name, string value) in pairs)
        {
            if (sb.Length > 0)
            {
                sb.Append(',');
            }

            sb.Append(name).Append("=\"").Append(EscapeLabelValue(value)).Append('"');
        }

        return sb.ToString();
    }

    private static string FormatDouble(double value) =>
        double.IsNaN(value) ? "NaN"
        : double.IsPositiveInfinity(value) ? "+Inf"
        : double.IsNegativeInfinity(value) ? "-Inf"
        : value.ToString("R", CultureInfo.InvariantCulture);

    private sealed class Renderer(MetricsFormat format)
    {
        private readonly StringBuilder _sb = new(8192);
        private readonly bool _om = format == MetricsFormat.OpenMetrics;
        private string _name = "";

        public void Family(string name, string type, string help, string? unit = null)
        {
            _name = name;

            // OpenMetrics names the counter family without its _total suffix; the samples keep it.
            string family = _om && type == "counter" ? name[..^"_total".Length] : name;
            _sb.Append("# HELP ").Append(family).Append(' ').Append(EscapeHelp(help)).Append('\n');
            _sb.Append("# TYPE ").Append(family).Append(' ').Append(type).Append('\n');
            if (_om && unit is not null)
            {
                _sb.Append("# UNIT ").Append(family).Append(' ').Append(unit).Append('\n');
            }
        }

        public void Sample(string suffix, string labels, long value) =>
            Sample(suffix, labels, value.ToString(CultureInfo.InvariantCulture));

        public void Sample(string suffix, string labels, string value)
        {
            _sb.Append(_name).Append(suffix);
            if (labels.Length > 0)
            {
                _sb.Append('{').Append(labels).Append('}');
            }

            _sb.Append(' ').Append(value).Append('\n');
        }

        public void Counter(string labels, long value, long? createdUnixSeconds)
        {
            Sample("", labels, value);
            if (_om && createdUnixSeconds is { } created)
            {
                _sb.Append(_name.AsSpan(0, _name.Length - "_total".Length)).Append("_created");
                if (labels.Length > 0)
                {
                    _sb.Append('{').Append(labels).Append('}');
                }

                _sb.Append(' ').Append(created.ToString(CultureInfo.InvariantCulture)).Append(".0\n");
            }
        }

        /// <summary>
        /// The recorded buckets are per range; exposition wants each bucket to count everything at or below its
        /// bound, so they are summed as they go, and +Inf equals _count.
        /// </summary>
        public void Histogram(string labels, Func<int, long> bucket, long sumMicroseconds, long? createdUnixSeconds)
        {
            long[] bounds = UpstreamStats.LatencyBucketsMicroseconds;
            string prefix = labels.Length > 0 ? labels + "," : "";
            long cumulative = 0;
            for (int i = 0; i <= bounds.Length; i++)
            {
                cumulative += bucket(i);
                string le = i < bounds.Length ? FormatSeconds(bounds[i]) : "+Inf";
                Sample("_bucket", prefix + "le=\"" + le + "\"", cumulative);
            }

            Sample("_count", labels, cumulative);
            Sample("_sum", labels, FormatSeconds(sumMicroseconds));
            if (_om && createdUnixSeconds is { } created)
            {
                Sample("_created", labels, created.ToString(CultureInfo.InvariantCulture) + ".0");
            }
        }

        public string Finish()
        {
            if (_om)
            {
                _sb.Append("# EOF\n");
            }

            return _sb.ToString();
        }

        // 0.0.4 escapes only backslash and line feed in HELP; OpenMetrics escapes the double quote as well.
        private string EscapeHelp(string help)
        {
            string s = help.Replace(@"\", @"\\", StringComparison.Ordinal).Replace("\n", @"\n", StringComparison.Ordinal);
            return _om ? s.Replace("\"", "\\\"", StringComparison.Ordinal) : s;
        }
    }
}
