using System.Buffers.Binary;
using System.Text;

namespace DnsWarden.Wire.Tests.Tls;

/// <summary>Builds ClientHello handshake messages byte by byte per RFC 8446 §4.1.2 for tests.</summary>
internal sealed class ClientHelloBuilder
{
    private readonly List<(ushort Type, byte[] Data)> _extensions = [];

    public ushort LegacyVersion { get; set; } = 0x0303;

    public byte[] SessionId { get; set; } = new byte[32];

    public ushort[] CipherSuites { get; set; } = [0x1301, 0x1302, 0x1303];

    public byte[] CompressionMethods { get; set; } = [0];

    public bool OmitExtensionsBlock { get; set; }

    public ClientHelloBuilder Extension(ushort type, byte[] data)
    {
        _extensions.Add((type, data));
        return this;
    }

    public ClientHelloBuilder ServerName(string host) => Extension(0x0000, ServerNameData(host));

    public ClientHelloBuilder Alpn(params string[] protocols) => Extension(0x0010, AlpnData(protocols));

    public ClientHelloBuilder SupportedVersions(params ushort[] versions)
    {
        var data = new byte[1 + (2 * versions.Length)];
        data[0] = (byte)(2 * versions.Length);
        for (int i = 0; i < versions.Length; i++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(1 + (2 * i)), versions[i]);
        }

        return Extension(0x002b, data);
    }

    public static byte[] ServerNameData(string host)
    {
        byte[] name = Encoding.ASCII.GetBytes(host);
        var data = new byte[5 + name.Length];
        BinaryPrimitives.WriteUInt16BigEndian(data, (ushort)(3 + name.Length));
        data[2] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(3), (ushort)name.Length);
        name.CopyTo(data, 5);
        return data;
    }

    public static byte[] AlpnData(params string[] protocols)
    {
        var list = new List<byte>();
        foreach (string p in protocols)
        {
            list.Add((byte)p.Length);
            list.AddRange(Encoding.ASCII.GetBytes(p));
        }

        var data = new byte[2 + list.Count];
        BinaryPrimitives.WriteUInt16BigEndian(data, (ushort)list.Count);
        list.CopyTo(data, 2);
        return data;
    }

    public byte[] Build()
    {
        var body = new List<byte>();
        AddU16(body, LegacyVersion);
        for (int i = 0; i < 32; i++)
        {
            body.Add((byte)(0xA0 + i));
        }

        body.Add((byte)SessionId.Length);
        body.AddRange(SessionId);
        AddU16(body, (ushort)(2 * CipherSuites.Length));
        foreach (ushort cs in CipherSuites)
        {
            AddU16(body, cs);
        }

        body.Add((byte)CompressionMethods.Length);
        body.AddRange(CompressionMethods);
        if (!OmitExtensionsBlock)
        {
            var ext = new List<byte>();
            foreach ((ushort type, byte[] data) in _extensions)
            {
                AddU16(ext, type);
                AddU16(ext, (ushort)data.Length);
                ext.AddRange(data);
            }

            AddU16(body, (ushort)ext.Count);
            body.AddRange(ext);
        }

        var msg = new byte[4 + body.Count];
        msg[0] = 1;
        msg[1] = (byte)(body.Count >> 16);
        msg[2] = (byte)(body.Count >> 8);
        msg[3] = (byte)body.Count;
        body.CopyTo(msg, 4);
        return msg;
    }

    /// <summary>Wraps a handshake message in TLS records, cutting it at the given message offsets.</summary>
    public static byte[] ToRecords(ReadOnlySpan<byte> message, params int[] cuts)
    {
        var stream = new List<byte>();
        int start = 0;
        foreach (int end in cuts.Append(message.Length))
        {
            stream.Add(22);
            stream.Add(3);
            stream.Add(start == 0 ? (byte)1 : (byte)3);
            AddU16(stream, (ushort)(end - start));
            stream.AddRange(message.Slice(start, end - start).ToArray());
            start = end;
        }

        return [.. stream];
    }

    private static void AddU16(List<byte> list, ushort value)
    {
        list.Add((byte)(value >> 8));
        list.Add((byte)value);
    }
}
