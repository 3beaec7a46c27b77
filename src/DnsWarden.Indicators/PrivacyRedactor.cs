using System.Net;

namespace DnsWarden.Indicators;

/// <summary>How much of what was seen an event keeps (docs/EVENTS.md, field by field).</summary>
public enum PrivacyMode
{
    /// <summary>Everything: names, source addresses, command lines.</summary>
    Full,

    /// <summary>Default: names cut to their base domain, source addresses to their network, no command lines.</summary>
    Redacted,

    /// <summary>No names, no source, the process by name only.</summary>
    Minimal,
}

/// <summary>
/// The name and address redaction behind every privacy mode: the leak detector's events and the resolver's query log
/// cut names and sources the same way (docs/EVENTS.md).
/// </summary>
public sealed class PrivacyRedactor(PrivacyMode mode, BaseDomains baseDomains)
{
    public PrivacyMode Mode => mode;

    public static bool TryParse(string text, out PrivacyMode mode)
    {
        switch (text)
        {
            case "full":
                mode = PrivacyMode.Full;
                return true;
            case "redacted":
                mode = PrivacyMode.Redacted;
                return true;
            case "minimal":
                mode = PrivacyMode.Minimal;
                return true;
            default:
                mode = PrivacyMode.Redacted;
                return false;
        }
    }

    public static string Name(PrivacyMode mode) => mode switch
    {
        PrivacyMode.Full => "full",
        PrivacyMode.Minimal => "minimal",
        _ => "redacted",
    };

    /// <summary>A name as this mode writes it: as sent (<c>full</c>), cut to its base domain (<c>redacted</c>), or none (<c>minimal</c>).</summary>
    public string? WriteName(string? name) => mode switch
    {
        PrivacyMode.Full => name,
        PrivacyMode.Minimal => null,
        _ => RedactName(name),
    };

    /// <summary><c>a1.b.example.com</c> → <c>*.example.com</c>; a base domain stays as it is.</summary>
    public string? RedactName(string? name)
    {
        if (name is null)
        {
            return null;
        }

        string trimmed = name.TrimEnd('.').ToLowerInvariant();
        string baseDomain = baseDomains.GetBaseDomain(trimmed);
        return trimmed.Length > baseDomain.Length ? "*." + baseDomain : baseDomain;
    }

    /// <summary><c>10.1.2.3:5353</c> → <c>10.1.2.0/24</c>; <c>[2001:db8:1:2::5]:53</c> → <c>2001:db8:1::/48</c> (the port says little and identifies a socket).</summary>
    public static string? RedactEndpoint(string? endpoint)
    {
        if (endpoint is null)
        {
            return null;
        }

        string host = endpoint.StartsWith('[') ? endpoint[1..endpoint.IndexOf(']', StringComparison.Ordinal)] : endpoint[..endpoint.LastIndexOf(':')];
        if (!IPAddress.TryParse(host, out IPAddress? address))
        {
            return null;
        }

        bool v4 = address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork;
        int prefix = v4 ? 24 : 48;
        byte[] bytes = address.GetAddressBytes();
        for (int bit = prefix; bit < bytes.Length * 8; bit++)
        {
            bytes[bit / 8] &= (byte)~(0x80 >> (bit % 8));
        }

        return new IPAddress(bytes) + "/" + prefix.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }
}
