using DnsWarden.Indicators;
using DnsWarden.Leak.Events;

namespace DnsWarden.Leak.Tests.Events;

/// <summary>Events with every field set, for the JSON and privacy tests.</summary>
internal static class Samples
{
    public static readonly DateTimeOffset Time = new DateTimeOffset(2026, 11, 24, 19, 55, 1, TimeSpan.Zero).AddTicks(5_902_831);

    public static LeakEvent LeakD() => new()
    {
        Kind = "leak",
        Timestamp = Time,
        LeakType = LeakType.D,
        Severity = Severity.P1,
        Transport = "udp53",
        Confidence = Confidence.High,
        QName = "a1.b.example.co.uk",
        QType = "AAAA",
        Interface = "wg0",
        RouteClass = "tunnel",
        Source = "10.1.2.3:5353",
        Destination = "10.8.0.1:53",
        Process = new ProcessInfo(4242, "firefox", "/usr/lib/firefox/firefox", 1000, "firefox --private \"x y\"", [new ProcessAncestor(100, "bash"), new ProcessAncestor(1, "systemd")]),
        Attribution = new Attribution(Confidence.Medium, "socket inode matched"),
        Evidence = ["first reason", "second: ünïcode + <angle> \"quoted\""],
        Frame = 1234,
        ServerName = "www.example.org",
        Provider = "Google Public DNS",
        GeoIp = new GeoInfo("DE", "Germany", 64496, "Example AS"),
        CorrelationId = "q77",
        Connection = new ConnectionFacts("tcp-syn", "eth0", "physical", "[2001:db8::80]:443", "cdn.sub.example.net", 1240),
    };

    public static LeakEvent Exfiltration() => new()
    {
        Kind = "exfiltration",
        Timestamp = Time,
        Severity = Severity.P2,
        Transport = "udp53",
        Confidence = Confidence.Medium,
        QName = "abc.t.example.com",
        QType = "TXT",
        Interface = "eth0",
        RouteClass = "physical",
        Source = "[2001:db8:1:2::5]:40000",
        Destination = "[2001:db8::53]:53",
        Attribution = Attribution.FromFile,
        Evidence = ["40 unique names"],
        Frame = 9,
        CorrelationId = "q9",
        Exfiltration = new ExfiltrationFigures("example.com", 72, 40, 38, 4.125, 52, 71, 0.25, 0.5, 12.5),
    };
}
