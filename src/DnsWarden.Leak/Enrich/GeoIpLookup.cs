using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using DnsWarden.Leak.Events;
using MaxMind.Db;

namespace DnsWarden.Leak.Enrich;

/// <summary>
/// GeoIP facts for event destinations from MaxMind DB files the user supplies (MaxMind DB format 2.0, e.g.
/// GeoLite2-Country, -City, -ASN or DB-IP's lite files). Country comes from Country/City databases, the AS from ASN
/// databases; with several files the first that knows a field gives it. Thread-safe.
/// </summary>
public sealed class GeoIpLookup : IDisposable
{
    /// <summary>Addresses whose answer is kept; the cache starts over when full.</summary>
    public const int CacheCapacity = 4096;

    // Probed at open so a file whose tree or data section is damaged fails there, not on the first event.
    private static readonly IPAddress[] s_probes =
    [
        IPAddress.Parse("1.1.1.1"),
        IPAddress.Parse("8.8.8.8"),
        IPAddress.Parse("81.2.69.160"),
        IPAddress.Parse("2001:4860:4860::8888"),
    ];

    private readonly Reader[] _readers;
    private readonly ConcurrentDictionary<IPAddress, GeoInfo?> _cache = new();
    private int _errors;
    private bool _disposed;

    private GeoIpLookup(Reader[] readers, IReadOnlyList<string> paths)
    {
        _readers = readers;
        Paths = paths;
    }

    /// <summary>The files, in the order they are asked.</summary>
    public IReadOnlyList<string> Paths { get; }

    /// <summary>Lookups a database failed on (damaged records); such a file just gives no answer for that address.</summary>
    public int Errors => Volatile.Read(ref _errors);

    /// <summary>
    /// Opens one or more .mmdb files. False with <paramref name="error"/> naming the file and the reason when any
    /// of them is missing, unreadable, not a MaxMind DB, or damaged where the probe lookups reach.
    /// </summary>
    public static bool TryOpen(IReadOnlyList<string> paths, out GeoIpLookup? lookup, out string? error)
    {
        ArgumentNullException.ThrowIfNull(paths);
        lookup = null;
        if (paths.Count == 0)
        {
            error = "no GeoIP database given";
            return false;
        }

        var readers = new List<Reader>(paths.Count);
        foreach (string path in paths)
        {
            if (!TryOpenOne(path, out Reader? reader, out error))
            {
                foreach (Reader r in readers)
                {
                    r.Dispose();
                }

                return false;
            }

            readers.Add(reader!);
        }

        lookup = new GeoIpLookup([.. readers], [.. paths]);
        error = null;
        return true;
    }

    private static bool TryOpenOne(string path, out Reader? reader, out string? error)
    {
        reader = null;
        if (!File.Exists(path))
        {
            error = $"{path}: no such file";
            return false;
        }

        Reader? r = null;
        try
        {
            // Read into memory: a memory map would keep the file busy and see it change under us.
            r = new Reader(path, FileAccessMode.Memory);
            Metadata m = r.Metadata;
            if (m.BinaryFormatMajorVersion != 2)
            {
                error = $"{path}: MaxMind DB format {m.BinaryFormatMajorVersion}.{m.BinaryFormatMinorVersion}, only 2.x is read";
                r.Dispose();
                return false;
            }

            foreach (IPAddress probe in s_probes)
            {
                if (probe.AddressFamily == AddressFamily.InterNetworkV6 && m.IPVersion != 6)
                {
                    continue;
                }

                _ = r.Find<Dictionary<string, object>>(probe);
            }

            reader = r;
            error = null;
            return true;
        }
        catch (Exception e) when (IsDatabaseFault(e))
        {
            r?.Dispose();
            error = $"{path}: not a valid MaxMind DB file ({e.Message})";
            return false;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            r?.Dispose();
            error = $"{path}: cannot read ({e.Message})";
            return false;
        }
    }

    // What MaxMind's reader throws on bytes that are not a well-formed database.
    private static bool IsDatabaseFault(Exception e) =>
        e is InvalidDatabaseException or DeserializationException or ArgumentException or InvalidOperationException
            or IndexOutOfRangeException or OverflowException or InvalidCastException or KeyNotFoundException
            or NotSupportedException or FormatException;

    /// <summary>
    /// Country and AS of a public address; null for private, loopback, link-local, documentation and other special
    /// ranges, and when no file has a record.
    /// </summary>
    public GeoInfo? Lookup(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        ObjectDisposedException.ThrowIf(_disposed, this);
        IPAddress a = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
        if (!IsPublic(a))
        {
            return null;
        }

        if (_cache.TryGetValue(a, out GeoInfo? cached))
        {
            return cached;
        }

        GeoInfo? info = Resolve(a);
        if (_cache.Count >= CacheCapacity)
        {
            _cache.Clear();
        }

        _cache[a] = info;
        return info;
    }

    private GeoInfo? Resolve(IPAddress a)
    {
        string? code = null, name = null, org = null;
        long? asn = null;
        foreach (Reader r in _readers)
        {
            if (a.AddressFamily == AddressFamily.InterNetworkV6 && r.Metadata.IPVersion != 6)
            {
                continue;
            }

            Dictionary<string, object>? d;
            try
            {
                d = r.Find<Dictionary<string, object>>(a);
            }
            catch (Exception e) when (IsDatabaseFault(e))
            {
                Interlocked.Increment(ref _errors);
                continue;
            }

            if (d is null)
            {
                continue;
            }

            // A Country/City record; registered_country stands in where the network has no located country (anycast).
            Dictionary<string, object>? country = Map(d, "country") ?? Map(d, "registered_country");
            if (country is not null)
            {
                code ??= Text(country, "iso_code");
                name ??= Map(country, "names") is { } names ? Text(names, "en") : null;
            }

            asn ??= Number(d, "autonomous_system_number");
            org ??= Text(d, "autonomous_system_organization");
        }

        return code is null && name is null && asn is null && org is null ? null : new GeoInfo(code, name, asn, org);
    }

    private static Dictionary<string, object>? Map(Dictionary<string, object> d, string key) =>
        d.TryGetValue(key, out object? v) ? v as Dictionary<string, object> : null;

    private static string? Text(Dictionary<string, object> d, string key) =>
        d.TryGetValue(key, out object? v) ? v as string : null;

    private static long? Number(Dictionary<string, object> d, string key) =>
        d.TryGetValue(key, out object? v)
            ? v switch
            {
                long l => l,
                int i => i,
                uint u => u,
                ulong ul when ul <= long.MaxValue => (long)ul,
                ushort us => us,
                System.Numerics.BigInteger b when b >= 0 && b <= long.MaxValue => (long)b,
                _ => null,
            }
            : null;

    /// <summary>
    /// False for addresses no GeoIP database locates: unspecified, loopback, private (RFC 1918, RFC 4193), shared
    /// (RFC 6598), link-local (RFC 3927, RFC 4291), documentation (RFC 5737, RFC 3849, RFC 9637), benchmarking
    /// (RFC 2544), multicast and reserved.
    /// </summary>
    public static bool IsPublic(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        IPAddress a = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
        Span<byte> b = stackalloc byte[16];
        if (!a.TryWriteBytes(b, out int n))
        {
            return false;
        }

        if (n == 4)
        {
            return !(b[0] == 0
                || b[0] == 10
                || b[0] == 127
                || (b[0] == 100 && (b[1] & 0xC0) == 64)
                || (b[0] == 169 && b[1] == 254)
                || (b[0] == 172 && (b[1] & 0xF0) == 16)
                || (b[0] == 192 && b[1] == 0 && b[2] == 0)
                || (b[0] == 192 && b[1] == 0 && b[2] == 2)
                || (b[0] == 192 && b[1] == 168)
                || (b[0] == 198 && (b[1] & 0xFE) == 18)
                || (b[0] == 198 && b[1] == 51 && b[2] == 100)
                || (b[0] == 203 && b[1] == 0 && b[2] == 113)
                || b[0] >= 224);
        }

        return !(a.Equals(IPAddress.IPv6None)
            || a.Equals(IPAddress.IPv6Loopback)
            || (b[0] & 0xFE) == 0xFC
            || (b[0] == 0xFE && (b[1] & 0xC0) == 0x80)
            || b[0] == 0xFF
            || (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0D && b[3] == 0xB8)
            || (b[0] == 0x3F && b[1] == 0xFF && (b[2] & 0xF0) == 0x00));
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (Reader r in _readers)
        {
            r.Dispose();
        }
    }
}
