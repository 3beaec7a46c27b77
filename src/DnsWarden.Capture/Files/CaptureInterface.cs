using DnsWarden.Wire.Frames;

namespace DnsWarden.Capture.Files;

/// <summary>An interface of a capture file (a pcapng IDB, or the single implicit interface of classic pcap).</summary>
public sealed class CaptureInterface
{
    private const long NanosPerSecond = 1_000_000_000;

    internal CaptureInterface(
        int id,
        LinkType linkType,
        int snapLength,
        string? name,
        string? description,
        byte timestampResolution,
        long timestampOffsetSeconds)
    {
        Id = id;
        LinkType = linkType;
        SnapLength = snapLength;
        Name = name;
        Description = description;
        TimestampResolution = timestampResolution;
        TimestampOffsetSeconds = timestampOffsetSeconds;
    }

    public int Id { get; }

    public LinkType LinkType { get; }

    /// <summary>Maximum bytes captured per packet; 0 means unlimited (pcapng IDB SnapLen 0).</summary>
    public int SnapLength { get; }

    public string? Name { get; }

    public string? Description { get; }

    /// <summary>
    /// The raw if_tsresol byte (pcapng §4.2): high bit clear means units of 10^-n s, set means 2^-n s.
    /// Default 6 (microseconds).
    /// </summary>
    public byte TimestampResolution { get; }

    /// <summary>if_tsoffset: seconds added to every timestamp of this interface.</summary>
    public long TimestampOffsetSeconds { get; }

    /// <summary>Converts a raw timestamp in this interface's units to UTC nanoseconds since the epoch (saturating).</summary>
    public long ToNanoseconds(ulong units)
    {
        UInt128 ns;
        int n = TimestampResolution & 0x7F;
        if ((TimestampResolution & 0x80) != 0)
        {
            // 2^-n seconds per unit: ns = units * 1e9 / 2^n, done in 128 bits so n up to 127 cannot overflow.
            ns = ((UInt128)units * NanosPerSecond) >> n;
        }
        else if (n <= 9)
        {
            ns = (UInt128)units * Pow10(9 - n);
        }
        else
        {
            ns = n - 9 > 19 ? 0 : (UInt128)units / Pow10(n - 9);
        }

        Int128 total = (Int128)(ns > (UInt128)long.MaxValue ? (UInt128)long.MaxValue : ns) + ((Int128)TimestampOffsetSeconds * NanosPerSecond);
        return total > long.MaxValue ? long.MaxValue : total < long.MinValue ? long.MinValue : (long)total;
    }

    private static ulong Pow10(int e)
    {
        ulong r = 1;
        for (int i = 0; i < e; i++)
        {
            r *= 10;
        }

        return r;
    }

    public override string ToString() => $"#{Id} {Name ?? "(unnamed)"} {LinkType} snap={SnapLength}";
}
