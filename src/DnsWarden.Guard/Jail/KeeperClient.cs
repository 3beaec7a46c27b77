using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.Versioning;
using System.Text;

namespace DnsWarden.Guard.Jail;

/// <summary>
/// <c>dnsw jail</c>'s side of its keeper (<see cref="JailKeeper"/>): everything the run needs root for once it has
/// dropped goes through here, in <see cref="KeeperProtocol"/>'s format. Until <see cref="Start"/>, and once the keeper
/// is gone, every request fails: an address not inserted is an address that stays closed (fail closed).
/// Inserts are queued and sent as one request per <see cref="Commit"/>, as <see cref="NftAddressGate"/> batches them.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class KeeperClient : IDisposable
{
    private readonly Lock _lock = new();
    private readonly byte[] _request = new byte[2 + (KeeperProtocol.MaxElements * KeeperProtocol.ElementLength)];
    private readonly byte[] _reply = new byte[1024 + 3];
    private int _queued;
    private Process? _process;
    private Stream? _to;
    private Stream? _from;

    /// <summary>Completes when the keeper has ended (for whatever reason); never before <see cref="Start"/>.</summary>
    public Task Ended { get; private set; } = new TaskCompletionSource().Task;

    /// <summary>The keeper's pid (0 before <see cref="Start"/>).</summary>
    public int Pid => _process?.Id ?? 0;

    /// <summary>
    /// Starts the keeper (as root: it inherits this process's credentials) for the jail <paramref name="jailId"/> and
    /// waits until it holds the jail. Its standard input and output are the channel (pipes whose ends here are
    /// close-on-exec, so nothing else this process starts holds them); its standard error is this one's.
    /// </summary>
    public void Start(IReadOnlyList<string> self, string jailId, int commandPid, bool rawSets)
    {
        var psi = new ProcessStartInfo(self[0]) { UseShellExecute = false, RedirectStandardInput = true, RedirectStandardOutput = true };
        foreach (string a in self.Skip(1))
        {
            psi.ArgumentList.Add(a);
        }

        psi.ArgumentList.Add("jail-keeper");
        psi.ArgumentList.Add("--jail-id");
        psi.ArgumentList.Add(jailId);
        psi.ArgumentList.Add("--command-pid");
        psi.ArgumentList.Add(commandPid.ToString(CultureInfo.InvariantCulture));
        if (rawSets)
        {
            psi.ArgumentList.Add("--raw-sets");
        }

        Process process = Process.Start(psi) ?? throw new InvalidOperationException("cannot start the jail's keeper");
        _process = process;
        _to = process.StandardInput.BaseStream;
        _from = process.StandardOutput.BaseStream;
        Ended = process.WaitForExitAsync();
        if (_from.ReadByte() != KeeperProtocol.Ready)
        {
            throw new InvalidOperationException("the jail's keeper did not start (its error is above)");
        }
    }

    /// <summary>Queues an address for the jail's allow set; false when this request is full (commit first).</summary>
    public bool Add(ReadOnlySpan<byte> address, TimeSpan timeout) => Queue(address, null, timeout);

    /// <summary>Queues an address and port for the jail's raw TCP set; false when this request is full (commit first).</summary>
    public bool AddWithPort(ReadOnlySpan<byte> address, ushort port, TimeSpan timeout) => Queue(address, port, timeout);

    private bool Queue(ReadOnlySpan<byte> address, ushort? port, TimeSpan timeout)
    {
        if (_queued == KeeperProtocol.MaxElements)
        {
            return false;
        }

        KeeperProtocol.WriteElement(_request.AsSpan(2 + (_queued * KeeperProtocol.ElementLength)), address, port, timeout);
        _queued++;
        return true;
    }

    /// <summary>Sends what was queued and waits until the keeper has it in the kernel's sets. Nothing queued: true at once.</summary>
    public bool Commit(out string? error)
    {
        error = null;
        if (_queued == 0)
        {
            return true;
        }

        int count = _queued;
        _queued = 0;
        lock (_lock)
        {
            try
            {
                Stream to = _to ?? throw new IOException("not started");
                Stream from = _from!;
                _request[0] = KeeperProtocol.Insert;
                _request[1] = (byte)count;
                to.Write(_request, 0, 2 + (count * KeeperProtocol.ElementLength));
                to.Flush();
                from.ReadExactly(_reply, 0, 3);
                int length = BinaryPrimitives.ReadUInt16BigEndian(_reply.AsSpan(1));
                from.ReadExactly(_reply, 3, length);
                if (_reply[0] != KeeperProtocol.Ok)
                {
                    error = Encoding.UTF8.GetString(_reply, 3, length);
                    return false;
                }

                return true;
            }
            catch (Exception e) when (e is IOException or EndOfStreamException or ObjectDisposedException)
            {
                error = "the jail's keeper is gone: " + e.Message;
                return false;
            }
        }
    }

    /// <summary>The jail table's counters as nft lists them; empty when the keeper cannot say.</summary>
    public string Counters()
    {
        lock (_lock)
        {
            try
            {
                Stream to = _to ?? throw new IOException("not started");
                to.WriteByte(KeeperProtocol.Counters);
                to.Flush();
                Span<byte> length = stackalloc byte[4];
                _from!.ReadExactly(length);
                byte[] text = new byte[BinaryPrimitives.ReadUInt32BigEndian(length)];
                _from.ReadExactly(text);
                return Encoding.UTF8.GetString(text);
            }
            catch (Exception e) when (e is IOException or EndOfStreamException or ObjectDisposedException or OverflowException)
            {
                return "";
            }
        }
    }

    /// <summary>Asks the keeper to pass SIGHUP (1), SIGINT (2) or SIGTERM (15) to the jail's init.</summary>
    public bool Signal(int signal)
    {
        lock (_lock)
        {
            try
            {
                Stream to = _to ?? throw new IOException("not started");
                Span<byte> request = [KeeperProtocol.Signal, (byte)signal];
                to.Write(request);
                to.Flush();
                return _from!.ReadByte() == KeeperProtocol.Ok;
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
                return false;
            }
        }
    }

    /// <summary>Ends the channel: the keeper kills what is left of the jail and removes it; waits until it has.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            _to?.Dispose();
            _to = null;
        }

        _process?.WaitForExit();
        _from?.Dispose();
        _process?.Dispose();
    }
}
