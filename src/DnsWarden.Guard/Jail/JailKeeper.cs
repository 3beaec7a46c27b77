using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Text;
using DnsWarden.Platform;
using DnsWarden.Platform.Enforcement;

namespace DnsWarden.Guard.Jail;

/// <summary>What <c>dnsw jail</c> tells its keeper when it starts it (while it is still root, so believed).</summary>
public sealed record JailKeeperOptions
{
    /// <summary>The jail's id (the run's pid): the keeper's namespace, tables and files are those of this id only.</summary>
    public required string JailId { get; init; }

    /// <summary>The process that runs the command (<c>ip netns exec</c>, then unshare): its child is the jail's init.</summary>
    public required int CommandPid { get; init; }

    /// <summary>Host rules are active: the raw TCP sets exist.</summary>
    public bool RawSets { get; init; }
}

/// <summary>
/// <c>dnsw jail-keeper</c>: the only part of a run that stays root once <c>dnsw jail</c> has dropped to nobody (docs/JAIL.md,
/// "Privilege separation"). It holds the netlink socket of the jail's sets and the jail's teardown, and does only what
/// <see cref="KeeperProtocol"/> fixes: put addresses in this jail's sets (names its own), list this jail's counters,
/// pass SIGHUP/SIGINT/SIGTERM to this jail's init. It reads nothing the jail sends. A malformed request ends it as
/// the end of its input does: the command is killed and everything the jail made is removed.
/// </summary>
[SupportedOSPlatform("linux")]
public static class JailKeeper
{
    public static int Run(JailKeeperOptions options, Stream input, Stream output, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(stderr);

        // Its life is the run's: a terminal's ^C or a SIGTERM to the group goes to the jail through the run, and the
        // keeper ends when the run does (its input ends), never before.
        using PosixSignalRegistration interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => c.Cancel = true);
        using PosixSignalRegistration terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => c.Cancel = true);
        using PosixSignalRegistration hangup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, c => c.Cancel = true);
        using PosixSignalRegistration quit = PosixSignalRegistration.Create(PosixSignal.SIGQUIT, c => c.Cancel = true);

        ProcessIdentity? command = ProcessIdentity.Of(options.CommandPid);
        using JailNetwork net = JailNetwork.Adopt(options.JailId);
        try
        {
            using NftSetElements sets = NetworkNamespace.RunAsync(net.Namespace, () => NftSetElements.Open(JailNetwork.JailTable)).GetAwaiter().GetResult();
            output.WriteByte(KeeperProtocol.Ready);
            output.Flush();
            string? refused = Serve(options, net, sets, command, input, output);
            if (refused is not null)
            {
                stderr.WriteLine($"dnsw jail-keeper: refused a request ({refused}); ending the jail");
            }
        }
        catch (IOException)
        {
            // The run is gone (its end of the pipe closed under a reply): tear down as at the end of the input.
        }
        finally
        {
            Kill(command);
            Interception.JailTrustFiles.Remove(options.JailId);
        }

        return 0;
    }

    /// <summary>Answers requests until the input ends (null) or one is malformed (what is wrong with it).</summary>
    private static string? Serve(JailKeeperOptions options, JailNetwork net, NftSetElements sets, ProcessIdentity? command, Stream input, Stream output)
    {
        byte[] request = new byte[KeeperProtocol.MaxElements * KeeperProtocol.ElementLength];
        Span<byte> reply = stackalloc byte[4];
        while (true)
        {
            int op = input.ReadByte();
            switch (op)
            {
                case -1:
                    return null;
                case KeeperProtocol.Insert:
                    int count = input.ReadByte();
                    if (count is < 1 or > KeeperProtocol.MaxElements)
                    {
                        return count < 0 ? null : $"insert of {count} elements, expected 1 to {KeeperProtocol.MaxElements}";
                    }

                    Span<byte> elements = request.AsSpan(0, count * KeeperProtocol.ElementLength);
                    input.ReadExactly(elements);
                    bool ok = true;
                    for (int i = 0; i < count; i++)
                    {
                        ReadOnlySpan<byte> e = elements.Slice(i * KeeperProtocol.ElementLength, KeeperProtocol.ElementLength);
                        if (!KeeperProtocol.TryReadElement(e, options.RawSets, out bool v6, out int port, out TimeSpan timeout, out string? error))
                        {
                            return error;
                        }

                        ReadOnlySpan<byte> key = e.Slice(8, v6 ? 16 : 4);
                        ok &= port < 0 ? sets.Add(v6 ? "allowed6" : "allowed4", key, timeout) : sets.AddWithPort(v6 ? "raw6" : "raw4", key, (ushort)port, timeout);
                    }

                    ok &= sets.Commit(out string? refusal);
                    byte[] text = Encoding.UTF8.GetBytes(ok ? "" : refusal ?? "not taken");
                    reply[0] = ok ? KeeperProtocol.Ok : KeeperProtocol.Refused;
                    BinaryPrimitives.WriteUInt16BigEndian(reply[1..], (ushort)Math.Min(text.Length, 1024));
                    output.Write(reply[..3]);
                    output.Write(text.AsSpan(0, Math.Min(text.Length, 1024)));
                    output.Flush();
                    break;
                case KeeperProtocol.Counters:
                    byte[] listing = Encoding.UTF8.GetBytes(net.ListCounters());
                    BinaryPrimitives.WriteUInt32BigEndian(reply, (uint)listing.Length);
                    output.Write(reply);
                    output.Write(listing);
                    output.Flush();
                    break;
                case KeeperProtocol.Signal:
                    int signal = input.ReadByte();
                    if (!KeeperProtocol.IsForwardable(signal))
                    {
                        return signal < 0 ? null : $"signal {signal}, expected 1, 2 or 15";
                    }

                    bool sent = command is { IsAlive: true } c && ProcessChildren.First(c.Pid) is int init && ChildProcess.Signal(init, signal);
                    output.WriteByte(sent ? KeeperProtocol.Ok : KeeperProtocol.Refused);
                    output.Flush();
                    break;
                default:
                    return string.Create(CultureInfo.InvariantCulture, $"operation {op}, expected 1, 2 or 3");
            }
        }
    }

    /// <summary>The command's process, if it is still the one started (its start time unchanged): killing it kills the jail's init, and so the jail.</summary>
    private static void Kill(ProcessIdentity? command)
    {
        if (command is { IsAlive: true } c)
        {
            if (ProcessChildren.First(c.Pid) is int init)
            {
                _ = ChildProcess.Signal(init, 9);
            }

            _ = ChildProcess.Signal(c.Pid, 9);
        }
    }
}
