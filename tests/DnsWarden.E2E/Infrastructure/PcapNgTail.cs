using System.Buffers.Binary;
using System.Text;

namespace DnsWarden.E2E;

/// <summary>
/// Reads a pcapng file while dumpcap still writes it: each <see cref="Poll"/> takes the blocks that are complete so
/// far (a block's length is at both of its ends) and hands over every packet with the name of its interface. Only
/// what the capture helpers need: section headers (byte order), interface descriptions (if_name), enhanced, simple
/// and obsolete packet blocks (pcapng draft §4).
/// </summary>
public sealed class PcapNgTail : IDisposable
{
    private const uint SectionHeader = 0x0A0D0D0A;
    private const uint InterfaceDescription = 1;
    private const uint ObsoletePacket = 2;
    private const uint SimplePacket = 3;
    private const uint EnhancedPacket = 6;

    private readonly FileStream _file;
    private readonly List<string?> _interfaces = [];
    private byte[] _buffer = new byte[256 * 1024];
    private int _length;
    private bool _bigEndian;

    public PcapNgTail(string path)
    {
        _file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
    }

    /// <summary>Reads what has been written since the last call; <paramref name="onPacket"/> gets (interface name, packet bytes).</summary>
    public void Poll(PacketHandler onPacket)
    {
        while (true)
        {
            if (_length == _buffer.Length)
            {
                Array.Resize(ref _buffer, _buffer.Length * 2);
            }

            int n = _file.Read(_buffer, _length, _buffer.Length - _length);
            if (n == 0)
            {
                break;
            }

            _length += n;
        }

        int used = ForEachBlock(_buffer.AsSpan(0, _length), (type, body) => OnBlock(type, body, onPacket));
        _buffer.AsSpan(used, _length - used).CopyTo(_buffer);
        _length -= used;
    }

    /// <summary>
    /// Rewrites <paramref name="path"/> without the packets <paramref name="drop"/> picks; every other block (section,
    /// interfaces, statistics, packets) is kept byte for byte. Returns how many packets were dropped.
    /// </summary>
    public static int RemovePackets(string path, Func<ReadOnlySpan<byte>, bool> drop)
    {
        byte[] input = File.ReadAllBytes(path);
        using var output = new MemoryStream(input.Length);
        int dropped = 0;
        bool bigEndian = false;
        int offset = 0;
        int used = ForEachBlock(input, (type, body) =>
        {
            int total = body.Length + 12;
            if (type == SectionHeader)
            {
                bigEndian = body.Length >= 4 && BinaryPrimitives.ReadUInt32BigEndian(body) == 0x1A2B3C4D;
            }

            bool isDropped = PacketData(type, body, bigEndian) is { } range && drop(body.Slice(range.Start, range.Length));
            if (isDropped)
            {
                dropped++;
            }
            else
            {
                output.Write(input, offset, total);
            }

            offset += total;
        });
        output.Write(input, used, input.Length - used);
        File.WriteAllBytes(path, output.ToArray());
        return dropped;
    }

    public void Dispose() => _file.Dispose();

    public delegate void PacketHandler(string? interfaceName, ReadOnlySpan<byte> packet);

    private delegate void BlockHandler(uint type, ReadOnlySpan<byte> body);

    private void OnBlock(uint type, ReadOnlySpan<byte> body, PacketHandler onPacket)
    {
        switch (type)
        {
            case SectionHeader:
                _bigEndian = body.Length >= 4 && BinaryPrimitives.ReadUInt32BigEndian(body) == 0x1A2B3C4D;
                _interfaces.Clear();
                break;
            case InterfaceDescription:
                _interfaces.Add(InterfaceName(body, _bigEndian));
                break;
            default:
                if (PacketData(type, body, _bigEndian) is { } range)
                {
                    int id = type == EnhancedPacket ? (int)U32(body, 0, _bigEndian) : type == ObsoletePacket ? U16(body, 0, _bigEndian) : 0;
                    onPacket(id < _interfaces.Count ? _interfaces[id] : null, body.Slice(range.Start, range.Length));
                }

                break;
        }
    }

    /// <summary>Walks the complete blocks of <paramref name="bytes"/>; returns how many bytes they took.</summary>
    private static int ForEachBlock(ReadOnlySpan<byte> bytes, BlockHandler onBlock)
    {
        int offset = 0;
        bool bigEndian = false;
        while (bytes.Length - offset >= 12)
        {
            ReadOnlySpan<byte> rest = bytes[offset..];
            uint type = BinaryPrimitives.ReadUInt32LittleEndian(rest);
            if (type == SectionHeader && rest.Length >= 12)
            {
                // The byte-order magic tells how to read this section's lengths, the header's own included.
                bigEndian = BinaryPrimitives.ReadUInt32BigEndian(rest[8..]) == 0x1A2B3C4D;
            }

            uint total = U32(rest, 4, bigEndian);
            if (total < 12 || total % 4 != 0)
            {
                throw new InvalidDataException($"pcapng block at offset {offset} has length {total}");
            }

            if (total > rest.Length)
            {
                break; // not completely written yet
            }

            onBlock(bigEndian ? BinaryPrimitives.ReverseEndianness(type) : type, rest.Slice(8, (int)total - 12));
            offset += (int)total;
        }

        return offset;
    }

    private static (int Start, int Length)? PacketData(uint type, ReadOnlySpan<byte> body, bool bigEndian)
    {
        switch (type)
        {
            case EnhancedPacket or ObsoletePacket when body.Length >= 20:
                {
                    int captured = (int)Math.Min(U32(body, 12, bigEndian), (uint)(body.Length - 20));
                    return (20, captured);
                }

            case SimplePacket when body.Length >= 4:
                return (4, body.Length - 4);
            default:
                return null;
        }
    }

    private static string? InterfaceName(ReadOnlySpan<byte> body, bool bigEndian)
    {
        // link type (2), reserved (2), snap length (4), then options: code (2), length (2), value padded to 4.
        for (int at = 8; at + 4 <= body.Length;)
        {
            int code = U16(body, at, bigEndian);
            int length = U16(body, at + 2, bigEndian);
            if (code == 0 || at + 4 + length > body.Length)
            {
                break;
            }

            if (code == 2)
            {
                return Encoding.UTF8.GetString(body.Slice(at + 4, length)).TrimEnd('\0');
            }

            at += 4 + ((length + 3) & ~3);
        }

        return null;
    }

    private static uint U32(ReadOnlySpan<byte> s, int at, bool bigEndian) =>
        bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(s[at..]) : BinaryPrimitives.ReadUInt32LittleEndian(s[at..]);

    private static int U16(ReadOnlySpan<byte> s, int at, bool bigEndian) =>
        bigEndian ? BinaryPrimitives.ReadUInt16BigEndian(s[at..]) : BinaryPrimitives.ReadUInt16LittleEndian(s[at..]);
}
