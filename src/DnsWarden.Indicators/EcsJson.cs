using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace DnsWarden.Indicators;

/// <summary>
/// What every Elastic Common Schema line dnsw writes shares (docs/ECS.md): the schema version, the event envelope,
/// endpoints split into ECS's address/ip/port, and the custom <c>dnsw</c> object for what ECS has no field for.
/// Every object is written nested (<c>{"dns":{"question":{"name":…}}}</c>), never as dotted keys: Elasticsearch,
/// OpenSearch and Filebeat's ndjson parser read both, but nested is what <c>jq</c> and the ECS loggers write.
/// </summary>
public static class EcsJson
{
    /// <summary>The ECS release the field names and allowed values were checked against (the @elastic/ecs 8.11 definitions).</summary>
    public const string Version = "8.11.0";

    /// <summary>The one custom object: ECS reserves no namespace for a product's own fields, so they all go under this name.</summary>
    public const string CustomObject = "dnsw";

    public static JsonWriterOptions WriterOptions { get; } = new()
    {
        // Read by people and log shippers, never embedded in HTML: keep '+', '<' and non-ASCII as they are.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>Writes <c>"@timestamp"</c> and <c>"ecs":{"version"}</c>, which open every line.</summary>
    public static void WriteHeader(Utf8JsonWriter w, string timestamp)
    {
        ArgumentNullException.ThrowIfNull(w);
        w.WriteString("@timestamp"u8, timestamp);
        w.WriteStartObject("ecs"u8);
        w.WriteString("version"u8, Version);
        w.WriteEndObject();
    }

    /// <summary>
    /// Writes the <c>event</c> object's fixed part: kind, <c>category: ["network"]</c>, the types, action, dataset and
    /// <c>module: "dnsw"</c>. The caller adds its own event fields and closes the object.
    /// </summary>
    public static void StartEvent(Utf8JsonWriter w, string kind, string action, string dataset, params ReadOnlySpan<string> types)
    {
        ArgumentNullException.ThrowIfNull(w);
        w.WriteStartObject("event"u8);
        w.WriteString("kind"u8, kind);
        w.WriteStartArray("category"u8);
        w.WriteStringValue("network"u8);
        w.WriteEndArray();
        w.WriteStartArray("type"u8);
        foreach (string type in types)
        {
            w.WriteStringValue(type);
        }

        w.WriteEndArray();
        w.WriteString("action"u8, action);
        w.WriteString("dataset"u8, dataset);
        w.WriteString("module"u8, CustomObject);
    }

    /// <summary>
    /// An endpoint of the models (<c>10.0.0.2:40112</c>, <c>[fd00::2]:53</c>, or a network a privacy mode cut it to:
    /// <c>10.0.0.0/24</c>), split as every line dnsw writes splits it (<see cref="EndpointText"/>), in ECS's terms:
    /// <c>address</c> always (ECS keeps the raw address there), <c>ip</c> and <c>port</c> only when it is an address — a
    /// network is not an <c>ip</c>.
    /// </summary>
    public static EcsEndpoint ParseEndpoint(string endpoint)
    {
        (string address, int? port) = EndpointText.Split(endpoint);
        IPAddress? ip = !address.Contains('/', StringComparison.Ordinal) && IPAddress.TryParse(address, out IPAddress? parsed) ? parsed : null;
        return new EcsEndpoint(address, ip, ip is null ? null : port);
    }

    /// <summary>Writes <paramref name="name"/> (<c>source</c>, <c>destination</c>) with address, ip and port; leaves the object open when <paramref name="close"/> is false.</summary>
    public static void StartEndpoint(Utf8JsonWriter w, string name, EcsEndpoint endpoint, bool close = true)
    {
        ArgumentNullException.ThrowIfNull(w);
        w.WriteStartObject(name);
        w.WriteString("address"u8, endpoint.Address);
        if (endpoint.Ip is { } ip)
        {
            w.WriteString("ip"u8, ip.ToString());
        }

        if (endpoint.Port is { } port)
        {
            w.WriteNumber("port"u8, port);
        }

        if (close)
        {
            w.WriteEndObject();
        }
    }

    /// <summary><c>network.type</c> of an endpoint: of its address, or of the network a privacy mode cut it to; null for neither.</summary>
    public static string? NetworkType(EcsEndpoint endpoint) =>
        endpoint.Ip is { } ip ? NetworkType(ip)
        : IPNetwork.TryParse(endpoint.Address, out IPNetwork network) ? NetworkType(network.BaseAddress)
        : null;

    /// <summary><c>network.type</c>: <c>ipv4</c> or <c>ipv6</c>.</summary>
    public static string NetworkType(IPAddress ip)
    {
        ArgumentNullException.ThrowIfNull(ip);
        return ip.AddressFamily == AddressFamily.InterNetworkV6 && !ip.IsIPv4MappedToIPv6 ? "ipv6" : "ipv4";
    }

    /// <summary>The registrable domain of a name as written (a redacted <c>*.example.co.uk</c> gives <c>example.co.uk</c>); null for none.</summary>
    public static string? RegisteredDomain(string? name, BaseDomains baseDomains)
    {
        ArgumentNullException.ThrowIfNull(baseDomains);
        if (string.IsNullOrEmpty(name))
        {
            return null;
        }

        string bare = name.StartsWith("*.", StringComparison.Ordinal) ? name[2..] : name;
        string registered = baseDomains.GetBaseDomain(bare.TrimEnd('.'));
        return registered.Length == 0 ? null : registered;
    }

    /// <summary><c>process.user.id</c> and other ECS ids are keywords: numbers written as text.</summary>
    public static string Id(long value) => value.ToString(CultureInfo.InvariantCulture);
}
