using System.Buffers.Binary;

namespace DnsWarden.Guard.Jail;

/// <summary>
/// The fixed binary format between <c>dnsw jail</c> (unprivileged once it has dropped) and its root keeper
/// (<see cref="JailKeeper"/>), on the keeper's standard input and output. A request is an operation byte and a body
/// whose length the operation fixes (an insert's count comes first); nothing in it is a name, a path or text.
/// <list type="bullet">
/// <item><see cref="Insert"/>, count (1…<see cref="MaxElements"/>), count × <see cref="ElementLength"/> bytes: family (4 or
/// 6), flags (<see cref="WithPort"/>: the raw TCP set, address and port), port (big-endian u16), timeout in seconds
/// (big-endian u32, 1…<see cref="AddressHold.Maximum"/>), the address (16 bytes, an IPv4 one in the first 4, the rest
/// zero). Answer: a status byte, then a big-endian u16 length and the kernel's refusal as UTF-8.</item>
/// <item><see cref="Counters"/>: answer a big-endian u32 length and the jail table's counters as nft lists them.</item>
/// <item><see cref="Signal"/>, one byte (1, 2 or 15): passed to the jail's init. Answer: a status byte.</item>
/// </list>
/// Ready: the keeper writes <see cref="Ready"/> once it holds the jail. The end of its input is the end of the run.
/// </summary>
internal static class KeeperProtocol
{
    public const byte Ready = 0x4b;
    public const byte Insert = 1;
    public const byte Counters = 2;
    public const byte Signal = 3;

    public const byte WithPort = 1;
    public const int ElementLength = 24;
    public const int MaxElements = 64;
    public const byte Ok = 0;
    public const byte Refused = 1;

    /// <summary>The signals a run may pass on to its command (SIGHUP, SIGINT, SIGTERM).</summary>
    public static bool IsForwardable(int signal) => signal is 1 or 2 or 15;

    public static void WriteElement(Span<byte> target, ReadOnlySpan<byte> address, ushort? port, TimeSpan timeout)
    {
        target[..ElementLength].Clear();
        target[0] = address.Length == 4 ? (byte)4 : (byte)6;
        target[1] = port is null ? (byte)0 : WithPort;
        BinaryPrimitives.WriteUInt16BigEndian(target[2..], port ?? 0);
        BinaryPrimitives.WriteUInt32BigEndian(target[4..], (uint)Math.Clamp((long)timeout.TotalSeconds, 1, (long)AddressHold.Maximum.TotalSeconds));
        address.CopyTo(target[8..]);
    }

    /// <summary>Reads an element, or says what is wrong with it (then nothing else from that peer is believed).</summary>
    public static bool TryReadElement(ReadOnlySpan<byte> element, bool rawSets, out bool v6, out int port, out TimeSpan timeout, out string? error)
    {
        v6 = element[0] == 6;
        port = element[1] == WithPort ? BinaryPrimitives.ReadUInt16BigEndian(element[2..]) : -1;
        uint seconds = BinaryPrimitives.ReadUInt32BigEndian(element[4..]);
        timeout = TimeSpan.FromSeconds(seconds);
        error = element[0] is not (4 or 6) ? $"family {element[0]}, expected 4 or 6"
            : element[1] > WithPort ? $"flags {element[1]}, expected 0 or 1"
            : element[1] == 0 && BinaryPrimitives.ReadUInt16BigEndian(element[2..]) != 0 ? "a port without the port flag"
            : port == 0 || (port > 0 && !rawSets) ? "a port where no raw TCP rule is"
            : seconds < 1 || seconds > AddressHold.Maximum.TotalSeconds ? $"timeout {seconds} s, expected 1 to {AddressHold.Maximum.TotalSeconds} s"
            : !v6 && element[12..ElementLength].ContainsAnyExcept((byte)0) ? "an IPv4 address with bytes after it"
            : null;
        return error is null;
    }
}
