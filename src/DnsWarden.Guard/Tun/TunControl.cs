using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Text;

namespace DnsWarden.Guard.Tun;

/// <summary>
/// The running instance's control socket (<c>/run/dnsw/tun-NAME.sock</c>, root only): one line in, one line out per
/// connection. <c>mode firewall</c> / <c>mode dns-only</c> switch the mode; <c>status</c> reports the counters.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class TunControlServer : IAsyncDisposable
{
    /// <summary>A command is a short line; anything longer is not one.</summary>
    public const int MaxLine = 256;

    private readonly Socket _socket;
    private readonly Func<string, string> _handle;
    private readonly CancellationTokenSource _stop = new();
    private readonly string _path;
    private Task _loop = Task.CompletedTask;

    /// <param name="handle">Called with each command line (trimmed); returns the answer line. Called on a pool thread.</param>
    public TunControlServer(string path, Func<string, string> handle)
    {
        ArgumentNullException.ThrowIfNull(handle);
        _path = path;
        _handle = handle;
        File.Delete(path);
        _socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            _socket.Bind(new UnixDomainSocketEndPoint(path));
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            _socket.Listen(8);
        }
        catch
        {
            _socket.Dispose();
            throw;
        }
    }

    public void Start() => _loop = Task.Run(AcceptLoopAsync);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _socket.Dispose();
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
        try
        {
            File.Delete(_path);
        }
        catch (IOException)
        {
        }
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _socket.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
            {
                return;
            }

            using (client)
            {
                try
                {
                    using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                    timeout.CancelAfter(TimeSpan.FromSeconds(5));
                    string? line = await ReadLineAsync(client, timeout.Token).ConfigureAwait(false);
                    string answer = line is null ? "error: no command" : _handle(line.Trim());
                    await client.SendAsync(Encoding.UTF8.GetBytes(answer + "\n"), SocketFlags.None, timeout.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is SocketException or OperationCanceledException or IOException)
                {
                }
            }
        }
    }

    internal static async Task<string?> ReadLineAsync(Socket socket, CancellationToken cancel)
    {
        byte[] buffer = new byte[MaxLine];
        int used = 0;
        while (used < buffer.Length)
        {
            int n = await socket.ReceiveAsync(buffer.AsMemory(used), SocketFlags.None, cancel).ConfigureAwait(false);
            if (n == 0)
            {
                break;
            }

            used += n;
            int nl = buffer.AsSpan(0, used).IndexOf((byte)'\n');
            if (nl >= 0)
            {
                return Encoding.UTF8.GetString(buffer, 0, nl);
            }
        }

        return used == 0 || used == buffer.Length ? null : Encoding.UTF8.GetString(buffer, 0, used);
    }
}

/// <summary>Talks to a running <c>dnsw tun</c> through its control socket.</summary>
[SupportedOSPlatform("linux")]
public static class TunControlClient
{
    /// <summary>Sends one command line and returns the answer line.</summary>
    /// <exception cref="SocketException">No instance listens there.</exception>
    public static async Task<string> SendAsync(string path, string command, TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancel.Token).ConfigureAwait(false);
        await socket.SendAsync(Encoding.UTF8.GetBytes(command + "\n"), SocketFlags.None, cancel.Token).ConfigureAwait(false);
        return (await TunControlServer.ReadLineAsync(socket, cancel.Token).ConfigureAwait(false))?.Trim() ?? "error: no answer";
    }
}
