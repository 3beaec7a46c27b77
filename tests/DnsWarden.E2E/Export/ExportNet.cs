using System.Globalization;

namespace DnsWarden.E2E.Export;

/// <summary>
/// The export topology: a "store" namespace running ClickHouse, and three sensor namespaces joined to it by a veth
/// each (10.77.N.2 → 10.77.N.1) and to nothing else — two replay capture files through <c>leak watch --export</c>,
/// one runs <c>dnsw proxy --export</c> in front of a dnsmasq on its own loopback, driven by dnsperf.
/// </summary>
public sealed class ExportNet : IAsyncLifetime
{
    public static readonly string[] RequiredTools = ["ip", "ss", "dnsmasq", "dnsperf", .. ClickHouseStore.RequiredTools];

    private TestNet? _net;

    public TestNet Net => _net ?? throw new InvalidOperationException(SkipReason());

    internal ClickHouseStore Store { get; private set; } = null!;

    public string SensorA { get; private set; } = "";

    public string SensorB { get; private set; } = "";

    public string Proxy { get; private set; } = "";

    public static string? SkipReason() => HostTools.NotRootReason() ?? HostTools.MissingToolsReason(RequiredTools);

    /// <summary>The store's address as sensor <paramref name="n"/> (1, 2, 3) reaches it.</summary>
    public static string StoreAddress(int n) => string.Create(CultureInfo.InvariantCulture, $"10.77.{n}.1");

    public static string Url(int n, string database) => string.Create(CultureInfo.InvariantCulture, $"clickhouse://{StoreAddress(n)}:{ClickHouseStore.HttpPort}/{database}");

    public async ValueTask InitializeAsync()
    {
        if (SkipReason() is not null)
        {
            return;
        }

        _net = await TestNet.CreateAsync();
        string store = await _net.AddNamespaceAsync("store");
        SensorA = await _net.AddNamespaceAsync("sa");
        SensorB = await _net.AddNamespaceAsync("sb");
        Proxy = await _net.AddNamespaceAsync("px");
        int n = 0;
        foreach (string sensor in new[] { SensorA, SensorB, Proxy })
        {
            n++;
            VethPair veth = await _net.AddVethAsync(store, sensor);
            await _net.AddAddressAsync(store, veth.InterfaceA, StoreAddress(n) + "/24");
            await _net.AddAddressAsync(sensor, veth.InterfaceB, string.Create(CultureInfo.InvariantCulture, $"10.77.{n}.2/24"));
        }

        // The proxy sensor's upstream, on its own loopback.
        await _net.StartServerAsync(Proxy, "dnsmasq", "dnsmasq",
        [
            "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--listen-address=127.0.0.2", "--bind-interfaces",
            "--user=root", "--group=root", "--pid-file=" + _net.TempPath("dnsmasq.pid"), "--address=/export.test/10.1.2.3", "--cache-size=10000",
        ], [Listener.Udp(53, "127.0.0.2")]);
        Store = await ClickHouseStore.StartAsync(_net, store);
    }

    public async ValueTask DisposeAsync()
    {
        if (_net is not null)
        {
            await _net.DisposeAsync();
        }
    }
}
