using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Text.Json;

namespace DnsWarden.Policy;

/// <summary>Walks a <c>dnsw proxy</c> configuration file token by token and stops at the first problem, with the offending token's position.</summary>
internal ref struct ProxyConfigReader : IPolicyFileReader<ProxyConfig>
{
    private static readonly string[] s_rootKeys =
    [
        "version", "listen", "dot", "doh", "upstreams", "upstream_for", "strategy", "upstream_timeout", "cache", "ip_tracker", "query_log", "metrics", "tcp", "policy",
        "allow_clients", "rate_limit", "in_flight", "rebind_protection",
    ];

    private static readonly string[] s_upstreamKeys = ["url", "bootstrap", "server_name", "pin_sha256", "ca_file", "verify_certificate"];

    private static readonly string[] s_cacheKeys = ["enabled", "max_entries", "max_bytes", "max_ttl", "serve_stale", "prefetch"];

    private static readonly string[] s_trackerKeys = ["min_ttl", "max_ttl", "fixed_ttl", "max_addresses_per_name"];

    private static readonly string[] s_queryLogKeys = ["path", "privacy", "limit", "format"];

    private static readonly string[] s_metricsKeys = ["listen"];

    private static readonly string[] s_dotKeys = ["listen", "certificate", "key"];

    private static readonly string[] s_tcpKeys = ["max_connections", "idle_timeout", "max_connections_per_client"];

    private static readonly string[] s_rateLimitKeys = ["responses_per_second", "slip", "ipv4_prefix", "ipv6_prefix"];

    private static readonly string[] s_inFlightKeys = ["per_listener", "total"];

    /// <summary>A million answers a second to one client is no limit at all: past it a typo.</summary>
    private const int MaxResponsesPerSecond = 1_000_000;

    /// <summary>Far beyond any machine's memory for waiting queries: past it a typo.</summary>
    private const int MaxInFlight = 10_000_000;

    private static readonly string[] s_strategies = ["failover", "race"];

    /// <summary>Past this an attempt at one upstream is not a timeout but a hang; clients give up after about 5 s.</summary>
    private static readonly TimeSpan s_maxUpstreamTimeout = TimeSpan.FromSeconds(60);

    private static readonly TimeSpan s_maxTcpIdle = TimeSpan.FromHours(1);

    /// <summary>RFC 8767 §5 suggests 1 to 3 days of stale answers; a week is the most a typo-free file asks for.</summary>
    private static readonly TimeSpan s_maxServeStale = TimeSpan.FromDays(7);

    /// <summary>At 239 B an entry (docs/RESOLVER.md, "Cache") this is some 24 GB: far past any sensible cache, so a typo.</summary>
    private const int MaxCacheEntries = 100_000_000;

    private const long MinCacheBytes = 1024;

    private const long MaxCacheBytes = 64L * 1024 * 1024 * 1024;

    private const int MaxAddressesPerName = 65_536;

    private const int MaxTcpConnections = 1_000_000;

    /// <summary>SHA-256 digest size (RFC 7469 §2.4 pins are base64 of the SubjectPublicKeyInfo's SHA-256).</summary>
    private const int PinBytes = 32;

    private PolicyJsonCursor _json;
    private readonly string? _baseDirectory;
    private readonly ProxyConfig _defaults;

    /// <param name="defaults">What a key the file leaves out keeps: the proxy's defaults, or the jail's and the filter's.</param>
    public ProxyConfigReader(ReadOnlySpan<byte> data, string file, string? baseDirectory, ProxyConfig? defaults = null)
    {
        _json = new PolicyJsonCursor(data, file, ProxyConfigLoader.Example);
        _baseDirectory = baseDirectory;
        _defaults = defaults ?? new ProxyConfig();
    }

    public readonly PolicyError? Error => _json.Error;

    public bool TryRead(out ProxyConfig? config)
    {
        config = null;
        if (!_json.Next())
        {
            return false;
        }

        if (_json.Reader.TokenType != JsonTokenType.StartObject)
        {
            return _json.Fail($"expected a JSON object at the root, got {_json.Describe()}");
        }

        long root = _json.Reader.TokenStartIndex;
        ProxyConfig c = _defaults with { Source = _json.File };
        var seen = new Dictionary<string, long>(StringComparer.Ordinal);
        while (_json.NextKey(seen, s_rootKeys, null, out string? key))
        {
            bool ok;
            switch (key)
            {
                case "version":
                    ok = _json.ReadInt(key, 1, 1, out _);
                    break;
                case "listen":
                    ok = ReadListen(out List<IPEndPoint> listen);
                    c = c with { Listen = listen };
                    break;
                case "upstreams":
                    ok = ReadUpstreams("upstreams", out List<UpstreamConfig> upstreams);
                    c = c with { Upstreams = upstreams };
                    break;
                case "upstream_for":
                    ok = ReadDomainUpstreams(out List<DomainUpstream> routes);
                    c = c with { DomainUpstreams = routes };
                    break;
                case "strategy":
                    ok = _json.ReadEnum(key, s_strategies, out int strategy);
                    c = c with { Strategy = (UpstreamStrategy)strategy };
                    break;
                case "upstream_timeout":
                    ok = ReadDuration(key, TimeSpan.FromMilliseconds(1), s_maxUpstreamTimeout, nullable: false, out TimeSpan? timeout);
                    c = c with { UpstreamTimeout = timeout ?? ProxyConfig.DefaultUpstreamTimeout };
                    break;
                case "cache":
                    ok = ReadCache(ref c);
                    break;
                case "ip_tracker":
                    ok = ReadTracker(ref c);
                    break;
                case "query_log":
                    ok = ReadQueryLog(ref c);
                    break;
                case "metrics":
                    ok = ReadMetrics(ref c);
                    break;
                case "dot":
                    ok = ReadEncryptedListener("dot", "853", ref c);
                    break;
                case "doh":
                    ok = ReadEncryptedListener("doh", "443", ref c);
                    break;
                case "tcp":
                    ok = ReadTcp(ref c);
                    break;
                case "allow_clients":
                    ok = ReadAllowClients(ref c);
                    break;
                case "rate_limit":
                    ok = ReadRateLimit(ref c);
                    break;
                case "in_flight":
                    ok = ReadInFlight(ref c);
                    break;
                case "rebind_protection":
                    ok = _json.ReadBool(key, out bool rebind);
                    c = c with { RebindProtection = rebind };
                    break;
                default:
                    ok = ReadPolicy(ref c);
                    break;
            }

            if (!ok)
            {
                return false;
            }
        }

        if (Error is not null || !_json.AtEnd("configuration object"))
        {
            return false;
        }

        // The checks across keys (upstreams against the policy's mode) belong to no single token.
        IReadOnlyList<string> problems = c.Validate();
        if (problems.Count > 0)
        {
            return _json.FailAt(root, problems[0]);
        }

        config = c;
        return true;
    }

    // ---- sections ----

    /// <summary>
    /// <c>dot</c> (DNS over TLS, RFC 7858) or <c>doh</c> (DNS over HTTPS, RFC 8484): listeners with the certificate and
    /// key they present. Both present one certificate: when both name files, they must name the same ones.
    /// </summary>
    private bool ReadEncryptedListener(string name, string port, ref ProxyConfig c)
    {
        if (!_json.BeginObject(name, $"{{ \"listen\": [\"127.0.0.1:{port}\"], \"certificate\": \"cert.pem\", \"key\": \"key.pem\" }}"))
        {
            return false;
        }

        long start = _json.Reader.TokenStartIndex;
        string? cert = null;
        string? keyFile = null;
        List<IPEndPoint> listen = [];
        var seen = new Dictionary<string, long>(StringComparer.Ordinal);
        while (_json.NextKey(seen, s_dotKeys, name, out string? key))
        {
            bool ok = key switch
            {
                "listen" => ReadListen(name + ".listen", port, out listen),
                "certificate" => ReadExistingFile(name + ".certificate", "a PEM certificate file (the chain, leaf first)", out cert),
                _ => ReadExistingFile(name + ".key", "a PEM private key file", out keyFile),
            };
            if (!ok)
            {
                return false;
            }
        }

        if (Error is not null)
        {
            return false;
        }

        if (cert is null || keyFile is null || listen.Count == 0)
        {
            return _json.FailAt(start, $"{name}: expected \"listen\", \"certificate\" and \"key\" together");
        }

        if ((c.TlsCertificateFile is not null && c.TlsCertificateFile != cert) || (c.TlsKeyFile is not null && c.TlsKeyFile != keyFile))
        {
            return _json.FailAt(start, $"{name}: the DoT and DoH listeners present one certificate: name the same certificate and key in both");
        }

        c = name == "dot" ? c with { DotListen = listen } : c with { DohListen = listen };
        c = c with { TlsCertificateFile = cert, TlsKeyFile = keyFile };
        return true;
    }

    private bool ReadListen(out List<IPEndPoint> listen) => ReadListen("listen", "53", out listen);

    private bool ReadListen(string where, string port, out List<IPEndPoint> listen)
    {
        listen = [];
        if (!_json.BeginArray(where, $"an array of addresses such as [\"127.0.0.1:{port}\", \"[::1]:{port}\"]"))
        {
            return false;
        }

        long start = _json.Reader.TokenStartIndex;
        for (int i = 0; ; i++)
        {
            if (!_json.Next())
            {
                return false;
            }

            if (_json.Reader.TokenType == JsonTokenType.EndArray)
            {
                return listen.Count > 0 || _json.FailAt(start, $"{where}: expected at least one address such as \"127.0.0.1:{port}\", got an empty array");
            }

            string path = $"{where}[{i}]";
            if (!ReadEndPointHere(path, out IPEndPoint? endPoint))
            {
                return false;
            }

            if (listen.Contains(endPoint))
            {
                return _json.Fail($"{path}: {ProxyConfig.Format(endPoint)} is listed twice");
            }

            listen.Add(endPoint);
        }
    }

    /// <summary><c>upstream_for</c>: an object from domain suffix to its list of upstreams.</summary>
    private bool ReadDomainUpstreams(out List<DomainUpstream> routes)
    {
        routes = [];
        if (!_json.BeginObject("upstream_for", "{ \"corp.example\": [\"udp://10.0.0.53\"] }"))
        {
            return false;
        }

        var seen = new Dictionary<string, long>(StringComparer.Ordinal);
        while (_json.NextKey(seen, null, "upstream_for", out string? key))
        {
            long at = _json.Reader.TokenStartIndex;
            if (!DomainUpstream.TryParseSuffix(key, out string suffix, out string? error))
            {
                return _json.FailAt(at, "upstream_for: " + error);
            }

            if (routes.Any(r => r.Suffix == suffix))
            {
                return _json.FailAt(at, $"upstream_for: {PolicyJsonCursor.Quote(key)} names the suffix {PolicyJsonCursor.Quote(suffix)} twice");
            }

            string path = "upstream_for." + key;
            if (!ReadUpstreams(path, out List<UpstreamConfig> upstreams))
            {
                return false;
            }

            if (upstreams.Count == 0)
            {
                return _json.Fail($"{path}: expected at least one upstream");
            }

            routes.Add(new DomainUpstream(suffix, upstreams));
        }

        return Error is null;
    }

    private bool ReadUpstreams(string where, out List<UpstreamConfig> upstreams)
    {
        upstreams = [];
        if (!_json.BeginArray(where, "an array of upstreams such as [\"udp://10.0.0.1\", \"tls://dns.example@10.0.0.2\"]"))
        {
            return false;
        }

        for (int i = 0; ; i++)
        {
            if (!_json.Next())
            {
                return false;
            }

            if (_json.Reader.TokenType == JsonTokenType.EndArray)
            {
                return true;
            }

            string path = $"{where}[{i}]";
            long at = _json.Reader.TokenStartIndex;
            UpstreamConfig? upstream;
            if (_json.Reader.TokenType == JsonTokenType.String)
            {
                if (!_json.TryGetString(out string text))
                {
                    return false;
                }

                if (!UpstreamConfig.TryParse(text, out upstream, out string? error))
                {
                    return _json.Fail($"{path}: {error}");
                }
            }
            else if (_json.Reader.TokenType == JsonTokenType.StartObject)
            {
                if (!ReadUpstreamObject(path, out upstream))
                {
                    return false;
                }
            }
            else
            {
                return _json.Fail($"{path}: expected a URL such as \"udp://10.0.0.1\" or an object with \"url\", got {_json.Describe()}");
            }

            foreach (UpstreamConfig earlier in upstreams)
            {
                if (string.Equals(earlier.Url, upstream.Url, StringComparison.OrdinalIgnoreCase))
                {
                    return _json.FailAt(at, $"{path}: {PolicyJsonCursor.Quote(upstream.Url)} is listed twice");
                }
            }

            upstreams.Add(upstream);
        }
    }

    private bool ReadUpstreamObject(string path, [NotNullWhen(true)] out UpstreamConfig? upstream)
    {
        upstream = null;
        long start = _json.Reader.TokenStartIndex;
        string? url = null;
        long urlAt = 0;
        IPAddress? bootstrap = null;
        long bootstrapAt = 0;
        string? serverName = null;
        List<byte[]> pins = [];
        string? caFile = null;
        bool verify = true;
        string? tlsKey = null;
        long tlsAt = 0;

        var seen = new Dictionary<string, long>(StringComparer.Ordinal);
        while (_json.NextKey(seen, s_upstreamKeys, path, out string? key))
        {
            string keyPath = path + "." + key;
            if (key is not ("url" or "bootstrap") && tlsKey is null)
            {
                tlsKey = key;
                tlsAt = _json.Reader.TokenStartIndex;
            }

            bool ok;
            switch (key)
            {
                case "url":
                    ok = _json.ReadString(keyPath, "an upstream URL such as \"https://dns.example/dns-query\"", out string u);
                    url = u;
                    urlAt = _json.Reader.TokenStartIndex;
                    break;
                case "bootstrap":
                    ok = _json.ReadAddress(keyPath, "an IP address such as 10.0.0.3 or fd00::3", null, out bootstrap);
                    bootstrapAt = _json.Reader.TokenStartIndex;
                    break;
                case "server_name":
                    ok = _json.ReadString(keyPath, "a host name such as dns.example", out string name);
                    if (ok && (!UpstreamConfig.IsHostName(name) || Profiles.TryParseAddress(name, out _)))
                    {
                        ok = _json.Fail($"{keyPath}: expected a host name such as dns.example, got {PolicyJsonCursor.Quote(name)}");
                    }

                    serverName = name;
                    break;
                case "pin_sha256":
                    ok = ReadPins(keyPath, pins);
                    break;
                case "ca_file":
                    ok = ReadExistingFile(keyPath, "a path to a PEM file of certificate authorities", out caFile);
                    break;
                default:
                    ok = _json.ReadBool(keyPath, out verify);
                    break;
            }

            if (!ok)
            {
                return false;
            }
        }

        if (Error is not null)
        {
            return false;
        }

        if (url is null)
        {
            return _json.FailAt(start, $"{path}: missing 'url' (an upstream object needs at least \"url\")");
        }

        if (!UpstreamConfig.TryParse(url, requireBootstrap: false, out UpstreamConfig? parsed, out string? error))
        {
            return _json.FailAt(urlAt, $"{path}.url: {error}");
        }

        bool literal = Profiles.TryParseAddress(parsed.Host, out _);
        if (bootstrap is not null && parsed.Bootstrap is not null)
        {
            return _json.FailAt(bootstrapAt, $"{path}.bootstrap: the url names a bootstrap address already (after '@')");
        }

        if (bootstrap is not null && literal)
        {
            return _json.FailAt(bootstrapAt, $"{path}.bootstrap: '{parsed.Host}' is an address already; a bootstrap address is only for a host name");
        }

        if (!literal && bootstrap is null && parsed.Bootstrap is null)
        {
            return _json.FailAt(urlAt, $"{path}.url: '{parsed.Host}' needs a bootstrap address: the resolver never asks the system resolver (add \"bootstrap\": \"ADDRESS\")");
        }

        if (tlsKey is not null && parsed.Protocol is UpstreamProtocol.Udp or UpstreamProtocol.Tcp)
        {
            return _json.FailAt(tlsAt, $"{path}.{tlsKey}: only tls:// and https:// upstreams use TLS settings");
        }

        upstream = parsed with
        {
            Bootstrap = bootstrap ?? parsed.Bootstrap,
            ServerName = serverName,
            PinsSha256 = pins,
            CaFile = caFile,
            VerifyCertificate = verify,
        };
        return true;
    }

    private bool ReadPins(string path, List<byte[]> pins)
    {
        if (!_json.BeginArray(path, "an array of base64 SHA-256 digests"))
        {
            return false;
        }

        byte[] buffer = new byte[PinBytes + 1];
        for (int i = 0; ; i++)
        {
            if (!_json.Next())
            {
                return false;
            }

            if (_json.Reader.TokenType == JsonTokenType.EndArray)
            {
                return true;
            }

            string expected = $"the base64 of a {PinBytes}-byte SHA-256 digest (44 characters ending in '=')";
            if (_json.Reader.TokenType != JsonTokenType.String)
            {
                return _json.Fail($"{path}[{i}]: expected {expected}, got {_json.Describe()}");
            }

            if (!_json.TryGetString(out string text))
            {
                return false;
            }

            if (!Convert.TryFromBase64String(text, buffer, out int written) || written != PinBytes)
            {
                return _json.Fail($"{path}[{i}]: expected {expected}, got {PolicyJsonCursor.Quote(text)}");
            }

            pins.Add(buffer.AsSpan(0, PinBytes).ToArray());
        }
    }

    private bool ReadCache(ref ProxyConfig c)
    {
        if (!_json.BeginObject("cache", "{ \"enabled\": true, \"max_entries\": 10000 }"))
        {
            return false;
        }

        var seen = new Dictionary<string, long>(StringComparer.Ordinal);
        while (_json.NextKey(seen, s_cacheKeys, "cache", out string? key))
        {
            string path = "cache." + key;
            bool ok;
            switch (key)
            {
                case "enabled":
                    ok = _json.ReadBool(path, out bool enabled);
                    c = c with { CacheEnabled = enabled };
                    break;
                case "max_entries":
                    ok = _json.ReadInt(path, 1, MaxCacheEntries, out int entries);
                    c = c with { CacheMaxEntries = entries };
                    break;
                case "max_bytes":
                    ok = ReadSize(path, MinCacheBytes, MaxCacheBytes, out long bytes);
                    c = c with { CacheMaxBytes = bytes };
                    break;
                case "serve_stale":
                    ok = ReadDuration(path, TimeSpan.Zero, s_maxServeStale, nullable: false, out TimeSpan? stale);
                    c = c with { CacheServeStale = stale ?? TimeSpan.Zero };
                    break;
                case "prefetch":
                    ok = _json.ReadBool(path, out bool prefetch);
                    c = c with { CachePrefetch = prefetch };
                    break;
                default:
                    ok = ReadDuration(path, TimeSpan.FromSeconds(1), PolicyDuration.Max, nullable: true, out TimeSpan? maxTtl);
                    c = c with { CacheMaxTtl = maxTtl };
                    break;
            }

            if (!ok)
            {
                return false;
            }
        }

        return Error is null;
    }

    private bool ReadTracker(ref ProxyConfig c)
    {
        if (!_json.BeginObject("ip_tracker", "{ \"fixed_ttl\": \"5m\" }"))
        {
            return false;
        }

        long maxAt = -1;
        var seen = new Dictionary<string, long>(StringComparer.Ordinal);
        while (_json.NextKey(seen, s_trackerKeys, "ip_tracker", out string? key))
        {
            string path = "ip_tracker." + key;
            bool ok;
            TimeSpan? ttl;
            switch (key)
            {
                case "min_ttl":
                    ok = ReadDuration(path, TimeSpan.Zero, PolicyDuration.Max, nullable: false, out ttl);
                    c = c with { TrackerMinTtl = ttl ?? TimeSpan.Zero };
                    break;
                case "max_ttl":
                    ok = ReadDuration(path, TimeSpan.FromSeconds(1), PolicyDuration.Max, nullable: true, out ttl);
                    maxAt = _json.Reader.TokenStartIndex;
                    c = c with { TrackerMaxTtl = ttl };
                    break;
                case "fixed_ttl":
                    ok = ReadDuration(path, TimeSpan.FromSeconds(1), PolicyDuration.Max, nullable: true, out ttl);
                    c = c with { TrackerFixedTtl = ttl };
                    break;
                default:
                    ok = _json.ReadInt(path, 1, MaxAddressesPerName, out int perName);
                    c = c with { TrackerMaxAddressesPerName = perName };
                    break;
            }

            if (!ok)
            {
                return false;
            }
        }

        if (Error is not null)
        {
            return false;
        }

        if (c.TrackerMaxTtl is { } max && max < c.TrackerMinTtl)
        {
            return _json.FailAt(maxAt, $"ip_tracker.max_ttl: {PolicyDuration.Format(max)} is below min_ttl {PolicyDuration.Format(c.TrackerMinTtl)}");
        }

        return true;
    }

    private bool ReadQueryLog(ref ProxyConfig c)
    {
        if (!_json.BeginObject("query_log", "{ \"path\": \"/var/log/dnsw/queries.jsonl\", \"privacy\": \"redacted\" }"))
        {
            return false;
        }

        var seen = new Dictionary<string, long>(StringComparer.Ordinal);
        while (_json.NextKey(seen, s_queryLogKeys, "query_log", out string? key))
        {
            bool ok;
            if (key == "path")
            {
                ok = ReadOptionalString("query_log.path", "a file path, or \"-\" for standard output", out string? path);
                c = c with { QueryLogPath = path };
            }
            else if (key == "limit")
            {
                ok = ReadLogLimit(out long limit);
                c = c with { QueryLogBytesPerMinute = limit };
            }
            else if (key == "format")
            {
                ok = _json.ReadEnum("query_log.format", [.. ProxyConfig.LogFormats], out int format);
                if (ok)
                {
                    c = c with { QueryLogFormat = ProxyConfig.LogFormats[format] };
                }
            }
            else
            {
                ok = _json.ReadEnum("query_log.privacy", [.. ProxyConfig.PrivacyLevels], out int privacy);
                if (ok)
                {
                    c = c with { QueryLogPrivacy = ProxyConfig.PrivacyLevels[privacy] };
                }
            }

            if (!ok)
            {
                return false;
            }
        }

        return Error is null;
    }

    private bool ReadMetrics(ref ProxyConfig c)
    {
        if (!_json.BeginObject("metrics", "{ \"listen\": \"127.0.0.1:9153\" }"))
        {
            return false;
        }

        var seen = new Dictionary<string, long>(StringComparer.Ordinal);
        while (_json.NextKey(seen, s_metricsKeys, "metrics", out _))
        {
            if (!_json.Next())
            {
                return false;
            }

            if (_json.Reader.TokenType == JsonTokenType.Null)
            {
                c = c with { MetricsListen = null };
                continue;
            }

            if (!ReadEndPointHere("metrics.listen", out IPEndPoint? endPoint))
            {
                return false;
            }

            c = c with { MetricsListen = endPoint };
        }

        return Error is null;
    }

    private bool ReadTcp(ref ProxyConfig c)
    {
        if (!_json.BeginObject("tcp", "{ \"max_connections\": 1024, \"idle_timeout\": \"10s\" }"))
        {
            return false;
        }

        var seen = new Dictionary<string, long>(StringComparer.Ordinal);
        while (_json.NextKey(seen, s_tcpKeys, "tcp", out string? key))
        {
            bool ok;
            if (key == "max_connections")
            {
                ok = _json.ReadInt("tcp.max_connections", 1, MaxTcpConnections, out int max);
                c = c with { MaxTcpConnections = max };
            }
            else if (key == "max_connections_per_client")
            {
                ok = _json.ReadInt("tcp.max_connections_per_client", 1, MaxTcpConnections, out int max);
                c = c with { MaxTcpConnectionsPerClient = max };
            }
            else
            {
                // RFC 7766 §6.2.3: servers close idle connections after some seconds; an hour is already generous.
                ok = ReadDuration("tcp.idle_timeout", TimeSpan.FromMilliseconds(1), s_maxTcpIdle, nullable: false, out TimeSpan? idle);
                c = c with { TcpIdleTimeout = idle ?? ProxyConfig.DefaultTcpIdleTimeout };
            }

            if (!ok)
            {
                return false;
            }
        }

        return Error is null;
    }

    private bool ReadAllowClients(ref ProxyConfig c)
    {
        if (!_json.Next())
        {
            return false;
        }

        if (_json.Reader.TokenType == JsonTokenType.Null)
        {
            c = c with { AllowClients = null };
            return true;
        }

        if (_json.Reader.TokenType != JsonTokenType.StartArray)
        {
            return _json.Fail($"allow_clients: expected an array of networks such as [\"10.0.0.0/8\", \"fd00::/8\"] or null, got {_json.Describe()}");
        }

        var networks = new List<IPNetwork>();
        for (int i = 0; ; i++)
        {
            if (!_json.Next())
            {
                return false;
            }

            if (_json.Reader.TokenType == JsonTokenType.EndArray)
            {
                c = c with { AllowClients = networks };
                return true;
            }

            string path = $"allow_clients[{i}]";
            if (_json.Reader.TokenType != JsonTokenType.String)
            {
                return _json.Fail($"{path}: expected a network such as \"10.0.0.0/8\", got {_json.Describe()}");
            }

            if (!_json.TryGetString(out string text))
            {
                return false;
            }

            if (!ProxyConfig.TryParseNetwork(text, out IPNetwork network, out string? error))
            {
                return _json.Fail($"{path}: {error}");
            }

            networks.Add(network);
        }
    }

    private bool ReadRateLimit(ref ProxyConfig c)
    {
        if (!_json.Next())
        {
            return false;
        }

        if (_json.Reader.TokenType == JsonTokenType.Null)
        {
            c = c with { RateLimitResponsesPerSecond = 0 };
            return true;
        }

        if (_json.Reader.TokenType != JsonTokenType.StartObject)
        {
            return _json.Fail($"rate_limit: expected an object such as {{ \"responses_per_second\": 200, \"slip\": 2 }} or null, got {_json.Describe()}");
        }

        var seen = new Dictionary<string, long>(StringComparer.Ordinal);
        while (_json.NextKey(seen, s_rateLimitKeys, "rate_limit", out string? key))
        {
            string path = "rate_limit." + key;
            int value;
            bool ok;
            switch (key)
            {
                case "responses_per_second":
                    ok = _json.ReadInt(path, 1, MaxResponsesPerSecond, out value);
                    c = c with { RateLimitResponsesPerSecond = value };
                    break;
                case "slip":
                    ok = _json.ReadInt(path, 0, 100, out value);
                    c = c with { RateLimitSlip = value };
                    break;
                case "ipv4_prefix":
                    ok = _json.ReadInt(path, 1, 32, out value);
                    c = c with { RateLimitV4Prefix = value };
                    break;
                default:
                    ok = _json.ReadInt(path, 1, 128, out value);
                    c = c with { RateLimitV6Prefix = value };
                    break;
            }

            if (!ok)
            {
                return false;
            }
        }

        return Error is null;
    }

    private bool ReadInFlight(ref ProxyConfig c)
    {
        if (!_json.BeginObject("in_flight", "{ \"per_listener\": 1024, \"total\": 4096 }"))
        {
            return false;
        }

        var seen = new Dictionary<string, long>(StringComparer.Ordinal);
        while (_json.NextKey(seen, s_inFlightKeys, "in_flight", out string? key))
        {
            bool ok = _json.ReadInt("in_flight." + key, 1, MaxInFlight, out int value);
            c = key == "per_listener" ? c with { InFlightPerListener = value } : c with { InFlightTotal = value };
            if (!ok)
            {
                return false;
            }
        }

        return Error is null;
    }

    /// <summary><c>query_log.limit</c>: bytes a minute as a size (<c>"4MiB"</c>), a number of bytes, or 0 / null for no limit.</summary>
    private bool ReadLogLimit(out long limit)
    {
        limit = 0;
        if (!_json.Next())
        {
            return false;
        }

        if (_json.Reader.TokenType == JsonTokenType.Null)
        {
            return true;
        }

        bool ok = _json.Reader.TokenType switch
        {
            JsonTokenType.Number => _json.Reader.TryGetInt64(out limit) && limit >= 0,
            JsonTokenType.String => _json.TryGetString(out string text) && ProxyConfig.TryParseLogLimit(text, out limit, out _),
            _ => false,
        };
        return ok || (Error is null && _json.Fail($"query_log.limit: expected bytes a minute such as \"4MiB\", or 0 or null for no limit, got {_json.Describe()}"));
    }

    private bool ReadPolicy(ref ProxyConfig c)
    {
        if (!_json.Next())
        {
            return false;
        }

        if (_json.Reader.TokenType == JsonTokenType.StartObject)
        {
            // The inline policy is read by the policy reader itself, on this cursor, so its errors carry this file's positions.
            var inner = new ResolverPolicyReader(_json, "policy");
            bool ok = inner.TryReadObject(out ResolverPolicy? inline);
            _json = inner.Cursor;
            if (!ok || inline is null)
            {
                return false;
            }

            c = c with { Policy = inline, PolicyPath = null };
            return true;
        }

        if (_json.Reader.TokenType != JsonTokenType.String)
        {
            return _json.Fail($"policy: expected a policy file path such as \"policy.json\" or an inline policy object, got {_json.Describe()}");
        }

        if (!_json.TryGetString(out string name))
        {
            return false;
        }

        if (string.IsNullOrWhiteSpace(name))
        {
            return _json.Fail("policy: expected a policy file path such as \"policy.json\" or an inline policy object, got an empty string");
        }

        string path = Resolve(name);
        if (!ResolverPolicyLoader.TryLoad(path, out ResolverPolicy? policy, out PolicyError? error))
        {
            return _json.FailWith(error!);
        }

        c = c with { Policy = policy!, PolicyPath = path };
        return true;
    }

    // ---- values ----

    /// <summary>Reads <c>IP:PORT</c> at the current token, which must be a string.</summary>
    private bool ReadEndPointHere(string path, [NotNullWhen(true)] out IPEndPoint? endPoint)
    {
        endPoint = null;
        if (_json.Reader.TokenType != JsonTokenType.String)
        {
            return _json.Fail($"{path}: expected an address and port such as \"127.0.0.1:53\" or \"[::1]:53\", got {_json.Describe()}");
        }

        if (!_json.TryGetString(out string text))
        {
            return false;
        }

        if (!ProxyConfig.TryParseEndPoint(text, out endPoint, out string? error))
        {
            return _json.Fail($"{path}: {error}");
        }

        return true;
    }

    private bool ReadOptionalString(string path, string expected, out string? value)
    {
        value = null;
        if (!_json.Next())
        {
            return false;
        }

        if (_json.Reader.TokenType == JsonTokenType.Null)
        {
            return true;
        }

        if (_json.Reader.TokenType != JsonTokenType.String)
        {
            return _json.Fail($"{path}: expected {expected} or null, got {_json.Describe()}");
        }

        if (!_json.TryGetString(out string text))
        {
            return false;
        }

        if (text.Length == 0)
        {
            return _json.Fail($"{path}: expected {expected} or null, got an empty string");
        }

        value = text;
        return true;
    }

    /// <summary>A path that must name an existing file, taken from the configuration's directory when relative.</summary>
    private bool ReadExistingFile(string path, string expected, out string? file)
    {
        file = null;
        if (!_json.ReadString(path, expected, out string text))
        {
            return false;
        }

        if (string.IsNullOrWhiteSpace(text))
        {
            return _json.Fail($"{path}: expected {expected}, got an empty string");
        }

        string resolved = Resolve(text);
        if (!File.Exists(resolved))
        {
            return _json.Fail($"{path}: no such file {PolicyJsonCursor.Quote(resolved)}");
        }

        file = resolved;
        return true;
    }

    private readonly string Resolve(string path) =>
        _baseDirectory is null || Path.IsPathRooted(path) ? path : Path.Combine(_baseDirectory, path);

    private bool ReadDuration(string path, TimeSpan min, TimeSpan max, bool nullable, out TimeSpan? value)
    {
        value = null;
        if (!_json.Next())
        {
            return false;
        }

        string orNull = nullable ? " or null" : "";
        if (_json.Reader.TokenType == JsonTokenType.Null && nullable)
        {
            return true;
        }

        if (_json.Reader.TokenType != JsonTokenType.String)
        {
            return _json.Fail($"{path}: expected a duration such as \"2s\"{orNull}, got {_json.Describe()}");
        }

        if (!_json.TryGetString(out string text))
        {
            return false;
        }

        if (!PolicyDuration.TryParse(text, out TimeSpan parsed))
        {
            return _json.Fail($"{path}: {PolicyJsonCursor.Quote(text)} is not a duration (expected {PolicyDuration.Expected})");
        }

        if (parsed < min || parsed > max)
        {
            return _json.Fail($"{path}: expected a duration from {PolicyDuration.Format(min)} to {PolicyDuration.Format(max)}{orNull}, got {PolicyJsonCursor.Quote(text)}");
        }

        value = parsed;
        return true;
    }

    private bool ReadSize(string path, long min, long max, out long value)
    {
        value = 0;
        if (!_json.Next())
        {
            return false;
        }

        const string Expected = "a size in bytes such as 16777216 or \"16MiB\" (KiB, MiB, GiB)";
        if (_json.Reader.TokenType == JsonTokenType.Number)
        {
            if (!_json.Reader.TryGetInt64(out value) || value < min || value > max)
            {
                return _json.Fail($"{path}: expected a size from {FormatSize(min)} to {FormatSize(max)}, got {_json.Describe()}");
            }

            return true;
        }

        if (_json.Reader.TokenType != JsonTokenType.String)
        {
            return _json.Fail($"{path}: expected {Expected}, got {_json.Describe()}");
        }

        if (!_json.TryGetString(out string text))
        {
            return false;
        }

        if (!TryParseSize(text, out value))
        {
            return _json.Fail($"{path}: expected {Expected}, got {PolicyJsonCursor.Quote(text)}");
        }

        if (value < min || value > max)
        {
            return _json.Fail($"{path}: expected a size from {FormatSize(min)} to {FormatSize(max)}, got {PolicyJsonCursor.Quote(text)}");
        }

        return true;
    }

    /// <summary>A whole number and a binary unit: <c>512KiB</c>, <c>16MiB</c>, <c>1GiB</c>.</summary>
    internal static bool TryParseSize(string text, out long bytes)
    {
        bytes = 0;
        int digits = 0;
        while (digits < text.Length && char.IsAsciiDigit(text[digits]))
        {
            digits++;
        }

        // Nine digits times 2^30 stays below long.MaxValue.
        if (digits is 0 or > 9)
        {
            return false;
        }

        int shift;
        switch (text.AsSpan(digits))
        {
            case "KiB":
                shift = 10;
                break;
            case "MiB":
                shift = 20;
                break;
            case "GiB":
                shift = 30;
                break;
            default:
                return false;
        }

        bytes = long.Parse(text.AsSpan(0, digits), NumberStyles.None, CultureInfo.InvariantCulture) << shift;
        return true;
    }

    internal static string FormatSize(long bytes) => bytes switch
    {
        > 0 when bytes % (1L << 30) == 0 => (bytes >> 30).ToString(CultureInfo.InvariantCulture) + "GiB",
        > 0 when bytes % (1L << 20) == 0 => (bytes >> 20).ToString(CultureInfo.InvariantCulture) + "MiB",
        > 0 when bytes % (1L << 10) == 0 => (bytes >> 10).ToString(CultureInfo.InvariantCulture) + "KiB",
        _ => bytes.ToString(CultureInfo.InvariantCulture),
    };
}
