using System.Buffers;
using System.Runtime.Versioning;
using DnsWarden.Platform.Enforcement;

namespace DnsWarden.Guard.Tun;

/// <summary>
/// Writes packets into a TUN device (as if they arrived on it). With a virtio header on the device, each packet gets a
/// zeroed one in front: a plain, complete packet (checksums done, no segmentation).
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class TunSink(TunDevice device) : IPacketSink
{
    private long _errors;

    /// <summary>Writes the kernel refused (the link going down at exit, a malformed packet).</summary>
    public long Errors => Interlocked.Read(ref _errors);

    public void Write(ReadOnlySpan<byte> packet)
    {
        if (!device.HasVnetHeader)
        {
            TryWrite(packet);
            return;
        }

        int h = TunDevice.VnetHeaderLength;
        byte[] framed = ArrayPool<byte>.Shared.Rent(packet.Length + h);
        try
        {
            framed.AsSpan(0, h).Clear();
            packet.CopyTo(framed.AsSpan(h));
            TryWrite(framed.AsSpan(0, packet.Length + h));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(framed);
        }
    }

    /// <summary>Writes a packet already framed for the device (its virtio header first when it has one).</summary>
    internal void TryWrite(ReadOnlySpan<byte> framed)
    {
        try
        {
            device.Write(framed);
        }
        catch (IOException)
        {
            Interlocked.Increment(ref _errors);
        }
    }
}

/// <summary>
/// The bump in the wire: one thread reads the namespace's TUN and gives each packet to <see cref="TunFilter.Outbound"/>
/// (passed packets go out through the host's TUN, replies back into the namespace), another reads the host's TUN and
/// gives each packet to <see cref="TunFilter.Inbound"/> (passed packets go into the namespace, replies back out). With
/// virtio headers the header is kept off the filter's view and travels with a passed packet unchanged, so a TCP
/// super-packet is cut (and its checksum finished) by the kernel on the far side. Stops when the devices are disposed.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class TunBridge
{
    /// <summary>The largest packet a TUN hands over: an IP datagram, or a GSO super-packet with offloads.</summary>
    public const int MaxPacket = 65_535;

    /// <summary>Room for a RST or an ICMP error quoting the packet it answers (RFC 4443 §2.4: at most the minimum MTU, 1280).</summary>
    public const int ReplyCapacity = 2048;

    private readonly TunFilter _filter;
    private readonly TunSink _inside;
    private readonly TunSink _host;
    private readonly TunDevice _insideDevice;
    private readonly TunDevice _hostDevice;
    private readonly Thread _outbound;
    private readonly Thread _inbound;
    private long _filterErrors;

    public TunBridge(TunFilter filter, TunDevice inside, TunSink insideSink, TunDevice host)
    {
        ArgumentNullException.ThrowIfNull(filter);
        ArgumentNullException.ThrowIfNull(inside);
        ArgumentNullException.ThrowIfNull(insideSink);
        ArgumentNullException.ThrowIfNull(host);
        _filter = filter;
        _insideDevice = inside;
        _hostDevice = host;
        _inside = insideSink;
        _host = new TunSink(host);
        _outbound = new Thread(() => Pump(_insideDevice, outbound: true)) { IsBackground = true, Name = "dnsw tun outbound" };
        _inbound = new Thread(() => Pump(_hostDevice, outbound: false)) { IsBackground = true, Name = "dnsw tun inbound" };
    }

    /// <summary>Packets the filter threw on (counted, dropped).</summary>
    public long FilterErrors => Interlocked.Read(ref _filterErrors);

    /// <summary>Writes either TUN refused.</summary>
    public long WriteErrors => _inside.Errors + _host.Errors;

    public void Start()
    {
        _outbound.Start();
        _inbound.Start();
    }

    /// <summary>Waits for both threads; call after disposing the devices.</summary>
    public bool Join(TimeSpan timeout) => _outbound.Join(timeout) & _inbound.Join(timeout);

    private void Pump(TunDevice from, bool outbound)
    {
        int h = from.HasVnetHeader ? TunDevice.VnetHeaderLength : 0;
        byte[] packet = new byte[MaxPacket + h];
        byte[] reply = new byte[ReplyCapacity + h];
        TunSink forward = outbound ? _host : _inside;
        TunSink back = outbound ? _inside : _host;
        while (true)
        {
            int n = from.Read(packet);
            if (n < 0)
            {
                return;
            }

            if (n <= h)
            {
                continue;
            }

            TunVerdict verdict;
            int replyLength;
            try
            {
                verdict = outbound
                    ? _filter.Outbound(packet.AsSpan(h, n - h), reply.AsSpan(h), out replyLength)
                    : _filter.Inbound(packet.AsSpan(h, n - h), reply.AsSpan(h), out replyLength);
            }
#pragma warning disable CA1031 // one bad packet must not stop the wire; it is counted
            catch (Exception)
#pragma warning restore CA1031
            {
                Interlocked.Increment(ref _filterErrors);
                continue;
            }

            switch (verdict)
            {
                case TunVerdict.Pass:
                    forward.TryWrite(packet.AsSpan(0, n));
                    break;
                case TunVerdict.Reply when replyLength > 0 && replyLength <= ReplyCapacity:
                    reply.AsSpan(0, h).Clear();
                    back.TryWrite(reply.AsSpan(0, h + replyLength));
                    break;
                default:
                    break;
            }
        }
    }
}
