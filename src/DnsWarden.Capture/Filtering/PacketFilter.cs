using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Text;
using DnsWarden.Capture.Interop.Linux;
using DnsWarden.Wire.Frames;

namespace DnsWarden.Capture.Filtering;

/// <summary>
/// A capture filter in tcpdump's syntax (pcap-filter(7)), compiled by libpcap and run on frames read from capture
/// files, so that <c>--filter</c> means the same for a file as for a live interface (where the kernel runs it).
/// libpcap compiles for a link type, so a file's frames are filtered by a program compiled once per link type
/// (pcap_open_dead + pcap_compile) and run with pcap_offline_filter. Not thread-safe: one per reader.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed unsafe class PacketFilter : IDisposable
{
    /// <summary>What libpcap uses when a file gives no snap length: the expression only reads headers.</summary>
    private const int SnapLength = 262144;

    private readonly Dictionary<LinkType, nint> _programs = [];
    private readonly Dictionary<LinkType, string> _failures = [];

    private PacketFilter(string expression) => Expression = expression;

    public string Expression { get; }

    /// <summary>Frames the expression matched.</summary>
    public long Kept { get; private set; }

    /// <summary>Frames the expression did not match (never counted as malformed: they are not read at all).</summary>
    public long Dropped { get; private set; }

    /// <summary>Link types of the input for which the expression does not compile, with libpcap's message; their frames are dropped.</summary>
    public IReadOnlyDictionary<LinkType, string> Failures => _failures;

    /// <summary>
    /// Compiles the expression for Ethernet, as a check before any input is opened; false with libpcap's own message
    /// (<c>syntax error</c>, <c>unknown host 'x'</c>…) when it does not compile.
    /// </summary>
    public static bool TryCreate(string expression, out PacketFilter? filter, out string? error)
    {
        filter = new PacketFilter(expression);
        if (!filter.TryProgram(LinkType.Ethernet, out _, out error))
        {
            filter.Dispose();
            filter = null;
            return false;
        }

        return true;
    }

    /// <summary>Whether the frame passes; counts it either way.</summary>
    public bool Matches(LinkType linkType, ReadOnlySpan<byte> frame, int originalLength)
    {
        bool pass = false;
        if (TryProgram(linkType, out nint program, out _))
        {
            var header = new LibPcap.PacketHeader { CapturedLength = (uint)frame.Length, Length = (uint)Math.Max(originalLength, frame.Length) };
            fixed (byte* data = frame)
            {
                pass = LibPcap.OfflineFilter((LibPcap.BpfProgram*)program, &header, data) != 0;
            }
        }

        if (pass)
        {
            Kept++;
        }
        else
        {
            Dropped++;
        }

        return pass;
    }

    public void Dispose()
    {
        foreach (nint program in _programs.Values)
        {
            LibPcap.FreeCode((LibPcap.BpfProgram*)program);
            NativeMemory.Free((void*)program);
        }

        _programs.Clear();
    }

    /// <summary>
    /// Files record LINKTYPE_* values, pcap_open_dead takes a DLT_*: they are the same number but for raw IP, whose
    /// LINKTYPE_RAW (101) is DLT_RAW (12) on Linux (pcap/dlt.h; libpcap's pcap-common.c maps them).
    /// </summary>
    private static int Dlt(LinkType linkType) => linkType == LinkType.Raw ? 12 : (int)linkType;

    private bool TryProgram(LinkType linkType, out nint program, out string? error)
    {
        error = null;
        if (_programs.TryGetValue(linkType, out program))
        {
            return true;
        }

        if (_failures.TryGetValue(linkType, out error))
        {
            return false;
        }

        nint dead = LibPcap.OpenDead(Dlt(linkType), SnapLength);
        if (dead == 0)
        {
            error = "libpcap cannot open a handle for this link type";
            _failures[linkType] = error;
            return false;
        }

        var compiled = (LibPcap.BpfProgram*)NativeMemory.AllocZeroed((nuint)sizeof(LibPcap.BpfProgram));
        try
        {
            byte[] text = Encoding.UTF8.GetBytes(Expression + "\0");
            fixed (byte* expression = text)
            {
                if (LibPcap.Compile(dead, compiled, expression, 1, LibPcap.NetmaskUnknown) != 0)
                {
                    error = Marshal.PtrToStringUTF8((nint)LibPcap.GetError(dead)) ?? "does not compile";
                    _failures[linkType] = error;
                    NativeMemory.Free(compiled);
                    return false;
                }
            }
        }
        finally
        {
            LibPcap.ClosePcap(dead);
        }

        program = (nint)compiled;
        _programs[linkType] = program;
        return true;
    }
}
