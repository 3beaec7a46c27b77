using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;

namespace DnsWarden.E2E;

/// <summary>
/// Decodes a capture file with tshark (<c>-T json</c>) into <see cref="OracleFrame"/> records: the reference our
/// own pcapng reader and decoders are compared against.
/// </summary>
public static class TsharkOracle
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(120);
    private static readonly Lazy<Task<bool>> s_hasNoDuplicateKeys = new(ProbeNoDuplicateKeysAsync);

    /// <summary>
    /// Runs <c>tshark -n -r FILE -T json [--no-duplicate-keys] -o tcp.desegment_tcp_streams:TRUE -d udp.port==853,quic</c> and parses it.
    /// Name resolution is off (<c>-n</c>), so tshark never asks a resolver about the addresses it sees.
    /// </summary>
    public static async Task<IReadOnlyList<OracleFrame>> ReadAsync(string pcapngPath, CancellationToken cancellationToken = default)
    {
        string tshark = HostTools.Find("tshark") ?? throw new InvalidOperationException("tshark is not installed.");
        if (!File.Exists(pcapngPath))
        {
            throw new FileNotFoundException("Capture file not found.", pcapngPath);
        }

        var psi = new ProcessStartInfo(tshark)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        // UDP/853 is DNS over QUIC (RFC 9250); this tshark does not know that port for QUIC by itself.
        foreach (string a in new[] { "-n", "-r", pcapngPath, "-T", "json", "-o", "tcp.desegment_tcp_streams:TRUE", "-d", "udp.port==853,quic" })
        {
            psi.ArgumentList.Add(a);
        }

        if (await s_hasNoDuplicateKeys.Value)
        {
            psi.ArgumentList.Add("--no-duplicate-keys");
        }

        using var process = new Process { StartInfo = psi };
        process.Start();
        process.StandardInput.Close();
        using StreamReader stdoutReader = process.StandardOutput;
        using StreamReader stderrReader = process.StandardError;
        Task<string> stderr = stderrReader.ReadToEndAsync(CancellationToken.None);
        using var timeoutCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutCts.CancelAfter(s_timeout);

        IReadOnlyList<OracleFrame> frames;
        try
        {
            using JsonDocument doc = await JsonDocument.ParseAsync(stdoutReader.BaseStream, default, timeoutCts.Token);
            frames = Parse(doc.RootElement);
            await process.WaitForExitAsync(timeoutCts.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or JsonException)
        {
            ProcessRunner.KillTree(process);
            await process.WaitForExitAsync(CancellationToken.None);
            cancellationToken.ThrowIfCancellationRequested();
            throw new InvalidOperationException($"tshark on {pcapngPath} failed: {ex.Message}\n{await stderr}", ex);
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"tshark on {pcapngPath} exited {process.ExitCode}:\n{await stderr}");
        }

        return frames;
    }

    /// <summary>Parses tshark <c>-T json</c> text (with or without <c>--no-duplicate-keys</c>).</summary>
    public static IReadOnlyList<OracleFrame> Parse(string json)
    {
        using JsonDocument doc = JsonDocument.Parse(json);
        return Parse(doc.RootElement);
    }

    /// <summary>Parses the root array of tshark <c>-T json</c> output.</summary>
    public static IReadOnlyList<OracleFrame> Parse(JsonElement root)
    {
        var frames = new List<OracleFrame>();
        if (root.ValueKind != JsonValueKind.Array)
        {
            throw new JsonException("tshark -T json output must be an array of packets.");
        }

        foreach (JsonElement packet in root.EnumerateArray())
        {
            if (packet.ValueKind == JsonValueKind.Object
                && packet.TryGetProperty("_source", out JsonElement source)
                && source.ValueKind == JsonValueKind.Object
                && source.TryGetProperty("layers", out JsonElement layers)
                && layers.ValueKind == JsonValueKind.Object)
            {
                frames.Add(ParseLayers(layers));
            }
        }

        return frames;
    }

    private static OracleFrame ParseLayers(JsonElement layers)
    {
        // Each layer may be an object, an array of objects (merged duplicates), or a repeated key.
        var ordered = new List<(string Name, JsonElement Value)>();
        foreach (JsonProperty p in layers.EnumerateObject())
        {
            foreach (JsonElement v in Flatten(p.Value))
            {
                if (v.ValueKind == JsonValueKind.Object)
                {
                    ordered.Add((p.Name, v));
                }
            }
        }

        JsonElement? frame = ordered.Where(l => l.Name == "frame").Select(l => (JsonElement?)l.Value).FirstOrDefault();
        int number = frame is { } f ? FindInt(f, "frame.number") ?? 0 : 0;
        string? interfaceName = frame is { } f2 ? FindString(f2, "frame.interface_name") : null;
        int? interfaceId = frame is { } f3 ? FindInt(f3, "frame.interface_id") : null;
        string protocols = (frame is { } f4 ? FindString(f4, "frame.protocols") : null) ?? string.Empty;

        int? ipVersion = null;
        string? src = null;
        string? dst = null;
        int? headerProtocol = null;
        (string Name, JsonElement Value) ip = ordered.FirstOrDefault(l => l.Name is "ip" or "ipv6");
        if (ip.Name is not null)
        {
            bool v6 = ip.Name == "ipv6";
            ipVersion = v6 ? 6 : 4;
            src = NormalizeAddress(DirectString(ip.Value, v6 ? "ipv6.src" : "ip.src"));
            dst = NormalizeAddress(DirectString(ip.Value, v6 ? "ipv6.dst" : "ip.dst"));
            headerProtocol = ParseInt(DirectString(ip.Value, v6 ? "ipv6.nxt" : "ip.proto"));
        }

        string? transport = null;
        int? ipProtocol = headerProtocol;
        int? srcPort = null;
        int? dstPort = null;
        int? reassembledIn = null;
        (string Name, JsonElement Value) l4 = ordered.FirstOrDefault(l => l.Name is "tcp" or "udp" or "icmp" or "icmpv6");
        if (l4.Name is not null)
        {
            transport = l4.Name;
            ipProtocol = l4.Name switch
            {
                "tcp" => 6,
                "udp" => 17,
                "icmp" => 1,
                _ => 58,
            };
            if (l4.Name is "tcp" or "udp")
            {
                srcPort = ParseInt(DirectString(l4.Value, l4.Name + ".srcport"));
                dstPort = ParseInt(DirectString(l4.Value, l4.Name + ".dstport"));
            }

            if (l4.Name == "tcp")
            {
                reassembledIn = FindInt(l4.Value, "tcp.reassembled_in");
            }
        }

        var dns = new List<OracleDnsMessage>();
        var hellos = new List<OracleTlsClientHello>();
        foreach ((string name, JsonElement value) in ordered)
        {
            if (name == "dns")
            {
                dns.Add(ParseDns(value));
            }
            else if (name is "tls" or "quic")
            {
                // A QUIC Initial carries its ClientHello in CRYPTO frames; tshark decrypts it and nests a tls tree.
                CollectClientHellos(value, hellos);
            }
        }

        return new OracleFrame
        {
            Number = number,
            InterfaceName = interfaceName,
            InterfaceId = interfaceId,
            Protocols = protocols,
            IpVersion = ipVersion,
            SourceAddress = src,
            DestinationAddress = dst,
            IpProtocol = ipProtocol,
            Transport = transport,
            SourcePort = srcPort,
            DestinationPort = dstPort,
            TcpReassembledIn = reassembledIn,
            Dns = dns,
            TlsClientHellos = hellos,
        };
    }

    private static OracleDnsMessage ParseDns(JsonElement dns)
    {
        ushort id = (ushort)(ParseInt(DirectString(dns, "dns.id")) ?? 0);
        bool isResponse = FindString(dns, "dns.flags.response") == "1";
        int? rcode = FindInt(dns, "dns.flags.rcode");

        string? qname = null;
        int? qtype = null;
        foreach (JsonElement queries in Children(dns, "Queries"))
        {
            foreach (JsonElement q in RecordObjects(queries))
            {
                qname = NormalizeName(DirectString(q, "dns.qry.name"));
                qtype = ParseInt(DirectString(q, "dns.qry.type"));
                break;
            }

            break;
        }

        var records = new List<OracleDnsRecord>();
        foreach (JsonElement answers in Children(dns, "Answers"))
        {
            foreach (JsonElement rr in RecordObjects(answers))
            {
                int type = ParseInt(DirectString(rr, "dns.resp.type")) ?? -1;
                string owner = NormalizeName(DirectString(rr, "dns.resp.name")) ?? string.Empty;
                records.Add(new OracleDnsRecord(owner, type, RecordData(rr, type)));
            }
        }

        return new OracleDnsMessage(id, isResponse, qname, qtype, rcode, records.Select(r => r.Normalized).ToArray(), records);
    }

    private static string RecordData(JsonElement rr, int type)
    {
        switch (type)
        {
            case 1:
                return NormalizeAddress(DirectString(rr, "dns.a")) ?? string.Empty;
            case 28:
                return NormalizeAddress(DirectString(rr, "dns.aaaa")) ?? string.Empty;
            case 5:
                return NormalizeName(DirectString(rr, "dns.cname")) ?? string.Empty;
            case 2:
                return NormalizeName(DirectString(rr, "dns.ns")) ?? string.Empty;
            case 12:
                return NormalizeName(DirectString(rr, "dns.ptr.domain_name")) ?? string.Empty;
            case 16:
                return string.Concat(FindAll(rr, "dns.txt").Select(v => v.ValueKind == JsonValueKind.String ? v.GetString() : null));
            case 15:
                string? pref = DirectString(rr, "dns.mx.preference");
                string? exchange = NormalizeName(DirectString(rr, "dns.mx.mail_exchange"));
                return $"{pref} {exchange}";
            case 6:
                return NormalizeName(FindString(rr, "dns.soa.mname")) ?? string.Empty;
            default:
                return string.Empty;
        }
    }

    private static void CollectClientHellos(JsonElement tls, List<OracleTlsClientHello> into)
    {
        foreach (JsonElement handshake in FindAll(tls, "tls.handshake"))
        {
            if (handshake.ValueKind != JsonValueKind.Object || DirectString(handshake, "tls.handshake.type") != "1")
            {
                continue;
            }

            string? sni = FindString(handshake, "tls.handshake.extensions_server_name");
            string[] alpn = FindAll(handshake, "tls.handshake.extensions_alpn_str")
                .Where(v => v.ValueKind == JsonValueKind.String)
                .Select(v => v.GetString()!)
                .ToArray();
            into.Add(new OracleTlsClientHello(sni?.ToLowerInvariant(), alpn));
        }
    }

    // A section ("Queries", "Answers") maps a description to an RR object; identical descriptions repeat the
    // key or, with --no-duplicate-keys, become an array.
    private static IEnumerable<JsonElement> RecordObjects(JsonElement section)
    {
        if (section.ValueKind != JsonValueKind.Object)
        {
            yield break;
        }

        foreach (JsonProperty p in section.EnumerateObject())
        {
            foreach (JsonElement v in Flatten(p.Value))
            {
                if (v.ValueKind == JsonValueKind.Object)
                {
                    yield return v;
                }
            }
        }
    }

    private static IEnumerable<JsonElement> Children(JsonElement obj, string key)
    {
        if (obj.ValueKind != JsonValueKind.Object)
        {
            yield break;
        }

        foreach (JsonProperty p in obj.EnumerateObject())
        {
            if (p.Name == key)
            {
                foreach (JsonElement v in Flatten(p.Value))
                {
                    yield return v;
                }
            }
        }
    }

    private static IEnumerable<JsonElement> Flatten(JsonElement value)
    {
        if (value.ValueKind == JsonValueKind.Array)
        {
            foreach (JsonElement v in value.EnumerateArray())
            {
                yield return v;
            }
        }
        else
        {
            yield return value;
        }
    }

    /// <summary>Every value of <paramref name="key"/> anywhere below <paramref name="element"/>, arrays flattened.</summary>
    private static IEnumerable<JsonElement> FindAll(JsonElement element, string key)
    {
        if (element.ValueKind == JsonValueKind.Object)
        {
            foreach (JsonProperty p in element.EnumerateObject())
            {
                if (p.Name == key)
                {
                    foreach (JsonElement v in Flatten(p.Value))
                    {
                        yield return v;
                    }
                }
                else
                {
                    foreach (JsonElement v in FindAll(p.Value, key))
                    {
                        yield return v;
                    }
                }
            }
        }
        else if (element.ValueKind == JsonValueKind.Array)
        {
            foreach (JsonElement item in element.EnumerateArray())
            {
                foreach (JsonElement v in FindAll(item, key))
                {
                    yield return v;
                }
            }
        }
    }

    private static string? FindString(JsonElement element, string key)
    {
        foreach (JsonElement v in FindAll(element, key))
        {
            if (v.ValueKind == JsonValueKind.String)
            {
                return v.GetString();
            }
        }

        return null;
    }

    private static int? FindInt(JsonElement element, string key) => ParseInt(FindString(element, key));

    private static string? DirectString(JsonElement obj, string key)
    {
        foreach (JsonElement v in Children(obj, key))
        {
            if (v.ValueKind == JsonValueKind.String)
            {
                return v.GetString();
            }
        }

        return null;
    }

    internal static int? ParseInt(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }

        if (text.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            return int.TryParse(text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int hex) ? hex : null;
        }

        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) ? value : null;
    }

    /// <summary>Lowercase, no trailing dot; tshark's "&lt;Root&gt;" becomes "".</summary>
    public static string? NormalizeName(string? name)
    {
        if (name is null)
        {
            return null;
        }

        if (name == "<Root>")
        {
            return string.Empty;
        }

        return name.TrimEnd('.').ToLowerInvariant();
    }

    /// <summary><see cref="IPAddress.ToString"/> form (IPv6 compressed, lowercase); unparsable text is kept.</summary>
    public static string? NormalizeAddress(string? address)
    {
        if (address is null)
        {
            return null;
        }

        return IPAddress.TryParse(address, out IPAddress? ip) ? ip.ToString() : address;
    }

    private static async Task<bool> ProbeNoDuplicateKeysAsync()
    {
        if (HostTools.Find("tshark") is null)
        {
            return false;
        }

        CommandResult help = await ProcessRunner.RunAsync("tshark", ["--help"], TimeSpan.FromSeconds(30));
        return (help.StdOut + help.StdErr).Contains("--no-duplicate-keys", StringComparison.Ordinal);
    }
}
