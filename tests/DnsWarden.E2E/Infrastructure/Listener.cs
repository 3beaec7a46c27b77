using System.Globalization;
using System.Net;

namespace DnsWarden.E2E;

public enum ListenerProtocol
{
    Tcp,
    Udp,
}

/// <summary>A socket a server must have open before it counts as ready (as <c>ss -lnH</c> shows it).</summary>
/// <param name="Protocol">TCP (state LISTEN) or UDP (bound).</param>
/// <param name="Port">Local port.</param>
/// <param name="Address">Local address to match, or null for any.</param>
public readonly record struct Listener(ListenerProtocol Protocol, int Port, string? Address = null)
{
    public static Listener Tcp(int port, string? address = null) => new(ListenerProtocol.Tcp, port, address);

    public static Listener Udp(int port, string? address = null) => new(ListenerProtocol.Udp, port, address);

    public override string ToString() =>
        $"{(Protocol == ListenerProtocol.Tcp ? "tcp" : "udp")} {Address ?? "*"}:{Port.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>True when a line of <c>ss -lnHtu</c> output shows this socket.</summary>
    internal bool Matches(string ssLine)
    {
        // Columns: Netid State Recv-Q Send-Q Local-Address:Port Peer-Address:Port [Process]
        string[] cols = ssLine.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (cols.Length < 5)
        {
            return false;
        }

        string netid = cols[0];
        bool protocolOk = Protocol == ListenerProtocol.Tcp
            ? netid == "tcp" && cols[1] == "LISTEN"
            : netid == "udp";
        if (!protocolOk)
        {
            return false;
        }

        string local = cols[4];
        int colon = local.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(local.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port != Port)
        {
            return false;
        }

        if (Address is null)
        {
            return true;
        }

        string host = local[..colon].Trim('[', ']');
        int scope = host.IndexOf('%', StringComparison.Ordinal);
        if (scope >= 0)
        {
            host = host[..scope];
        }

        if (host == "*")
        {
            return true;
        }

        return IPAddress.TryParse(host, out IPAddress? have)
            && IPAddress.TryParse(Address, out IPAddress? want)
            && (have.Equals(want) || have.Equals(IPAddress.Any) || have.Equals(IPAddress.IPv6Any));
    }
}
