using System.Buffers.Binary;
using System.Net;
using System.Numerics;
using System.Text;

namespace DnsWarden.Leak.Tests.GeoIp;

/// <summary>
/// A small writer of MaxMind DB files for tests, after the MaxMind DB File Format Specification 2.0
/// (https://maxmind.github.io/MaxMind-DB/): a binary search tree over the address bits, a 16-byte separator, the
/// data section, then the metadata marker and map. IPv4 networks in an IPv6 tree sit under ::/96, where
/// readers look for them. No data deduplication and no pointers: tests write a handful of records.
/// </summary>
internal sealed class MmdbWriter
{
    // Spec, "Database Metadata": the marker before the metadata map.
    private static readonly byte[] s_metadataMarker = [0xAB, 0xCD, 0xEF, .. "MaxMind.com"u8];

    private readonly TrieNode _root = new();
    private readonly MemoryStream _data = new();

    public MmdbWriter(int ipVersion, int recordSize, string databaseType)
    {
        if (ipVersion is not (4 or 6))
        {
            throw new ArgumentOutOfRangeException(nameof(ipVersion));
        }

        if (recordSize is not (24 or 28 or 32))
        {
            throw new ArgumentOutOfRangeException(nameof(recordSize));
        }

        IpVersion = ipVersion;
        RecordSize = recordSize;
        DatabaseType = databaseType;
    }

    public int IpVersion { get; }

    public int RecordSize { get; }

    public string DatabaseType { get; }

    public ulong BuildEpoch { get; init; } = 1_700_000_000;

    /// <summary>Maps a network (<c>81.2.69.0/24</c>, <c>2001:db8::/32</c>) to a record; later, more specific inserts win inside it.</summary>
    public MmdbWriter Add(string cidr, IReadOnlyDictionary<string, object> record)
    {
        IPNetwork net = IPNetwork.Parse(cidr);
        byte[] addr = net.BaseAddress.GetAddressBytes();
        int prefix = net.PrefixLength;
        if (addr.Length == 4 && IpVersion == 6)
        {
            addr = [.. new byte[12], .. addr];
            prefix += 96;
        }
        else if (addr.Length == 16 && IpVersion == 4)
        {
            throw new ArgumentException("IPv6 network in an IPv4 database", nameof(cidr));
        }

        if (prefix == 0)
        {
            throw new ArgumentException("a /0 network has no tree to hang from", nameof(cidr));
        }

        int offset = (int)_data.Length;
        WriteValue(_data, record);
        var leaf = new TrieNode { DataOffset = offset };

        TrieNode node = _root;
        for (int i = 0; i < prefix; i++)
        {
            int bit = (addr[i / 8] >> (7 - (i % 8))) & 1;
            if (i == prefix - 1)
            {
                node.Children[bit] = leaf;
                break;
            }

            TrieNode? child = node.Children[bit];
            if (child is null)
            {
                child = new TrieNode();
                node.Children[bit] = child;
            }
            else if (child.DataOffset >= 0)
            {
                // Splitting a data leaf: both halves keep its record, the insert then narrows one of them.
                var split = new TrieNode();
                split.Children[0] = child;
                split.Children[1] = child;
                node.Children[bit] = split;
                child = split;
            }

            node = child;
        }

        return this;
    }

    public byte[] Build()
    {
        // Number the inner nodes breadth first; the root is node 0.
        var order = new List<TrieNode>();
        var ids = new Dictionary<TrieNode, int>(ReferenceEqualityComparer.Instance);
        var queue = new Queue<TrieNode>();
        queue.Enqueue(_root);
        while (queue.Count > 0)
        {
            TrieNode n = queue.Dequeue();
            ids[n] = order.Count;
            order.Add(n);
            foreach (TrieNode? c in n.Children)
            {
                if (c is not null && c.DataOffset < 0)
                {
                    queue.Enqueue(c);
                }
            }
        }

        uint nodeCount = (uint)order.Count;
        int nodeBytes = RecordSize * 2 / 8;
        var output = new MemoryStream();
        Span<byte> node = stackalloc byte[8];
        foreach (TrieNode n in order)
        {
            // Spec, "Pointer Values": < node_count is a node, == node_count is "no data", above is a data offset.
            uint left = Record(n.Children[0], ids, nodeCount);
            uint right = Record(n.Children[1], ids, nodeCount);
            node.Clear();
            switch (RecordSize)
            {
                case 24:
                    WriteUInt24(node, left);
                    WriteUInt24(node[3..], right);
                    break;
                case 28:
                    // The middle byte holds the top nibble of each record: left in the high half.
                    WriteUInt24(node, left & 0xFFFFFF);
                    node[3] = (byte)(((left >> 24) << 4) | (right >> 24));
                    WriteUInt24(node[4..], right & 0xFFFFFF);
                    break;
                default:
                    BinaryPrimitives.WriteUInt32BigEndian(node, left);
                    BinaryPrimitives.WriteUInt32BigEndian(node[4..], right);
                    break;
            }

            output.Write(node[..nodeBytes]);
        }

        // Spec, "Data Section Separator": 16 zero bytes.
        output.Write(new byte[16]);
        _data.WriteTo(output);
        output.Write(s_metadataMarker);
        var metadata = new Dictionary<string, object>
        {
            ["node_count"] = nodeCount,
            ["record_size"] = (ushort)RecordSize,
            ["ip_version"] = (ushort)IpVersion,
            ["database_type"] = DatabaseType,
            ["languages"] = new object[] { "en" },
            ["binary_format_major_version"] = (ushort)2,
            ["binary_format_minor_version"] = (ushort)0,
            ["build_epoch"] = BuildEpoch,
            ["description"] = new Dictionary<string, object> { ["en"] = $"DnsWarden test {DatabaseType}" },
        };
        WriteValue(output, metadata);
        return output.ToArray();
    }

    private static uint Record(TrieNode? child, Dictionary<TrieNode, int> ids, uint nodeCount) =>
        child switch
        {
            null => nodeCount,
            { DataOffset: >= 0 } => nodeCount + 16 + (uint)child.DataOffset,
            _ => (uint)ids[child],
        };

    private static void WriteUInt24(Span<byte> dst, uint v)
    {
        dst[0] = (byte)(v >> 16);
        dst[1] = (byte)(v >> 8);
        dst[2] = (byte)v;
    }

    /// <summary>Encodes one value in the data section format (spec, "Output Data Section").</summary>
    public static void WriteValue(Stream s, object value)
    {
        switch (value)
        {
            case string str:
                byte[] utf8 = Encoding.UTF8.GetBytes(str);
                WriteControl(s, 2, utf8.Length);
                s.Write(utf8);
                break;
            case double d:
                WriteControl(s, 3, 8);
                Span<byte> db = stackalloc byte[8];
                BinaryPrimitives.WriteDoubleBigEndian(db, d);
                s.Write(db);
                break;
            case byte[] bytes:
                WriteControl(s, 4, bytes.Length);
                s.Write(bytes);
                break;
            case ushort u16:
                WriteUnsigned(s, 5, u16);
                break;
            case uint u32:
                WriteUnsigned(s, 6, u32);
                break;
            case IReadOnlyDictionary<string, object> map:
                WriteControl(s, 7, map.Count);
                foreach ((string k, object v) in map)
                {
                    WriteValue(s, k);
                    WriteValue(s, v);
                }

                break;
            case int i32:
                // int32 is always written with all four bytes here; readers accept 0..4.
                WriteControl(s, 8, 4);
                Span<byte> ib = stackalloc byte[4];
                BinaryPrimitives.WriteInt32BigEndian(ib, i32);
                s.Write(ib);
                break;
            case ulong u64:
                WriteUnsigned(s, 9, u64);
                break;
            case BigInteger u128:
                byte[] big = u128.ToByteArray(isUnsigned: true, isBigEndian: true);
                if (big.Length == 1 && big[0] == 0)
                {
                    big = [];
                }

                WriteControl(s, 10, big.Length);
                s.Write(big);
                break;
            case object[] array:
                WriteControl(s, 11, array.Length);
                foreach (object v in array)
                {
                    WriteValue(s, v);
                }

                break;
            case bool b:
                WriteControl(s, 14, b ? 1 : 0);
                break;
            case float f:
                WriteControl(s, 15, 4);
                Span<byte> fb = stackalloc byte[4];
                BinaryPrimitives.WriteSingleBigEndian(fb, f);
                s.Write(fb);
                break;
            default:
                throw new ArgumentException($"no MaxMind DB type for {value.GetType()}", nameof(value));
        }
    }

    // Unsigned integers drop their leading zero bytes; the size is the byte count.
    private static void WriteUnsigned(Stream s, int type, ulong v)
    {
        int n = v == 0 ? 0 : (71 - BitOperations.LeadingZeroCount(v)) / 8;
        WriteControl(s, type, n);
        for (int i = n - 1; i >= 0; i--)
        {
            s.WriteByte((byte)(v >> (8 * i)));
        }
    }

    // Spec, "Control Byte": 3 type bits and 5 size bits; extended types put 0 in the type bits and type - 7 in
    // the next byte; sizes 29, 30 and 31 are followed by 1, 2 or 3 bytes of the size beyond 29, 285 and 65821.
    private static void WriteControl(Stream s, int type, int size)
    {
        int typeBits = type <= 7 ? type : 0;
        int sizeBits;
        byte[] extra;
        if (size < 29)
        {
            sizeBits = size;
            extra = [];
        }
        else if (size < 285)
        {
            sizeBits = 29;
            extra = [(byte)(size - 29)];
        }
        else if (size < 65821)
        {
            sizeBits = 30;
            int v = size - 285;
            extra = [(byte)(v >> 8), (byte)v];
        }
        else
        {
            sizeBits = 31;
            int v = size - 65821;
            extra = [(byte)(v >> 16), (byte)(v >> 8), (byte)v];
        }

        s.WriteByte((byte)((typeBits << 5) | sizeBits));
        if (type > 7)
        {
            s.WriteByte((byte)(type - 7));
        }

        s.Write(extra);
    }

    private sealed class TrieNode
    {
        public TrieNode?[] Children { get; } = new TrieNode?[2];

        /// <summary>Offset of the record in the data section for a leaf; -1 for an inner node.</summary>
        public int DataOffset { get; init; } = -1;
    }

    /// <summary>A GeoLite2-Country/City style record.</summary>
    public static Dictionary<string, object> CountryRecord(string isoCode, string englishName, bool registeredOnly = false) =>
        new()
        {
            [registeredOnly ? "registered_country" : "country"] = new Dictionary<string, object>
            {
                ["geoname_id"] = 1u,
                ["iso_code"] = isoCode,
                ["names"] = new Dictionary<string, object> { ["en"] = englishName, ["de"] = englishName + " (de)" },
            },
            ["continent"] = new Dictionary<string, object> { ["code"] = "EU" },
        };

    /// <summary>A GeoLite2-ASN style record.</summary>
    public static Dictionary<string, object> AsnRecord(uint asn, string organization) =>
        new()
        {
            ["autonomous_system_number"] = asn,
            ["autonomous_system_organization"] = organization,
        };
}
