using System.Globalization;

namespace DnsWarden.E2E.Export;

/// <summary>
/// A real ClickHouse (Debian's clickhouse-server) inside a test namespace: its own configuration, users and data
/// directory under the topology's temp directory (removed with it), HTTP and native ports that are not the
/// defaults, listening on the namespace's loopback and its veth addresses. Killed, restarted and queried with
/// clickhouse-client — a reader independent of dnsw's own HTTP client.
/// </summary>
internal sealed class ClickHouseStore
{
    public const int HttpPort = 28123;
    public const int NativePort = 29000;
    public const string WriterUser = "writer";
    public const string WriterPassword = "s3cret-for-tests";

    public static readonly string[] RequiredTools = ["clickhouse-server", "clickhouse-client"];

    private readonly TestNet _net;
    private readonly string _config;

    private ClickHouseStore(TestNet net, string ns, string config)
    {
        _net = net;
        Namespace = ns;
        _config = config;
    }

    public string Namespace { get; }

    public NetnsProcess? Process { get; private set; }

    public static async Task<ClickHouseStore> StartAsync(TestNet net, string ns)
    {
        string dir = net.TempPath("clickhouse");
        Directory.CreateDirectory(Path.Combine(dir, "data"));
        string users = Path.Combine(dir, "users.xml");
        await File.WriteAllTextAsync(users, $"""
            <?xml version="1.0"?>
            <yandex>
              <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
              <users>
                <default><password></password><networks><ip>::/0</ip></networks><profile>default</profile><quota>default</quota></default>
                <{WriterUser}><password>{WriterPassword}</password><networks><ip>::/0</ip></networks><profile>default</profile><quota>default</quota></{WriterUser}>
              </users>
              <quotas><default></default></quotas>
            </yandex>
            """);
        string config = Path.Combine(dir, "config.xml");
        await File.WriteAllTextAsync(config, string.Create(CultureInfo.InvariantCulture, $"""
            <?xml version="1.0"?>
            <yandex>
              <logger><level>warning</level><console>1</console></logger>
              <http_port>{HttpPort}</http_port>
              <tcp_port>{NativePort}</tcp_port>
              <listen_host>0.0.0.0</listen_host>
              <path>{dir}/data/</path>
              <tmp_path>{dir}/data/tmp/</tmp_path>
              <user_files_path>{dir}/data/user_files/</user_files_path>
              <format_schema_path>{dir}/data/format_schemas/</format_schema_path>
              <users_config>{users}</users_config>
              <default_profile>default</default_profile>
              <default_database>default</default_database>
              <timezone>UTC</timezone>
              <mark_cache_size>67108864</mark_cache_size>
              <uncompressed_cache_size>67108864</uncompressed_cache_size>
            </yandex>
            """));
        var store = new ClickHouseStore(net, ns, config);
        await store.RestartAsync();
        return store;
    }

    /// <summary>Starts the server (again, on the same data) and returns once both ports listen.</summary>
    public async Task RestartAsync() =>
        Process = await _net.StartServerAsync(Namespace, "clickhouse", "clickhouse-server", ["--config-file=" + _config],
            [Listener.Tcp(HttpPort), Listener.Tcp(NativePort)], TimeSpan.FromSeconds(60));

    /// <summary>SIGKILL, as a crash or the OOM killer would: no shutdown, no flush.</summary>
    public async Task KillAsync()
    {
        NetnsProcess p = Process ?? throw new InvalidOperationException("not running");
        p.Signal(ProcessSignal.Kill);
        await p.Exited.WaitAsync(TimeSpan.FromSeconds(30));
    }

    public async Task<string> QueryAsync(string sql)
    {
        CommandResult r = await _net.ExecAsync(Namespace, "clickhouse-client",
            ["--host", "127.0.0.1", "--port", NativePort.ToString(CultureInfo.InvariantCulture), "--query", sql], TimeSpan.FromSeconds(60));
        r.EnsureSuccess();
        return r.StdOut.Trim();
    }

    public async Task<long> CountAsync(string sql) => long.Parse(await QueryAsync(sql), CultureInfo.InvariantCulture);
}
