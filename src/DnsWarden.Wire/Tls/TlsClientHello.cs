using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace DnsWarden.Wire.Tls;

/// <summary>
/// Reads a ClientHello handshake message (RFC 8446 §4.1.2) as carried in TLS records or QUIC CRYPTO frames,
/// starting at the msg_type byte. No allocation; bytes after the declared message length are ignored.
/// </summary>
public static class TlsClientHello
{
    /// <summary>msg_type client_hello (RFC 8446 §4).</summary>
    public const byte HandshakeTypeClientHello = 1;

    /// <summary>msg_type (1) + uint24 length.</summary>
    public const int HandshakeHeaderLength = 4;

    public const ushort ExtensionServerName = 0x0000;        // RFC 6066 §3
    public const ushort ExtensionSupportedGroups = 0x000a;   // RFC 8446 §4.2.7
    public const ushort ExtensionAlpn = 0x0010;              // RFC 7301 §3.1
    public const ushort ExtensionSupportedVersions = 0x002b; // RFC 8446 §4.2.1
    public const ushort ExtensionQuicTransportParameters = 0x0039; // RFC 9001 §8.2
    public const ushort ExtensionEncryptedClientHello = 0xfe0d;    // draft-ietf-tls-esni (ECH)
    public const ushort ExtensionEncryptedServerName = 0xffce;     // pre-ECH ESNI drafts
    public const ushort VersionTls13 = 0x0304;

    private const int RandomLength = 32;
    private const int MaxSessionIdLength = 32; // RFC 8446 §4.1.2: opaque legacy_session_id<0..32>
    private const byte NameTypeHostName = 0;   // RFC 6066 §3

    /// <summary>
    /// Parses <paramref name="handshakeMessage"/>; false with a reason on short or malformed input, never an exception.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> handshakeMessage, out ClientHelloInfo info, out TlsError error)
    {
        info = default;
        ReadOnlySpan<byte> msg = handshakeMessage;
        if (msg.Length < HandshakeHeaderLength)
        {
            return Fail(msg.Length > 0 && msg[0] != HandshakeTypeClientHello ? TlsError.NotClientHello : TlsError.Truncated, out error);
        }

        if (msg[0] != HandshakeTypeClientHello)
        {
            return Fail(TlsError.NotClientHello, out error);
        }

        int bodyLength = (msg[1] << 16) | (msg[2] << 8) | msg[3];
        if (msg.Length - HandshakeHeaderLength < bodyLength)
        {
            return Fail(TlsError.Truncated, out error);
        }

        int end = HandshakeHeaderLength + bodyLength;
        int p = HandshakeHeaderLength;

        if (end - p < 2 + RandomLength + 1)
        {
            return Fail(TlsError.BodyTooShort, out error);
        }

        ushort legacyVersion = BinaryPrimitives.ReadUInt16BigEndian(msg.Slice(p));
        p += 2 + RandomLength;

        int sessionIdLength = msg[p++];
        if (sessionIdLength > MaxSessionIdLength)
        {
            return Fail(TlsError.BadSessionId, out error);
        }

        if (end - p < sessionIdLength)
        {
            return Fail(TlsError.BodyTooShort, out error);
        }

        int sessionIdOffset = p;
        p += sessionIdLength;

        if (end - p < 2)
        {
            return Fail(TlsError.BodyTooShort, out error);
        }

        // RFC 8446 §4.1.2: CipherSuite cipher_suites<2..2^16-2>.
        int cipherSuitesLength = BinaryPrimitives.ReadUInt16BigEndian(msg.Slice(p));
        p += 2;
        if (cipherSuitesLength == 0 || (cipherSuitesLength & 1) != 0)
        {
            return Fail(TlsError.BadCipherSuites, out error);
        }

        if (end - p < cipherSuitesLength)
        {
            return Fail(TlsError.BodyTooShort, out error);
        }

        int cipherSuitesOffset = p;
        bool grease = ContainsGrease(msg.Slice(p, cipherSuitesLength));
        p += cipherSuitesLength;

        if (end - p < 1)
        {
            return Fail(TlsError.BodyTooShort, out error);
        }

        // opaque legacy_compression_methods<1..2^8-1>.
        int compressionLength = msg[p++];
        if (compressionLength == 0)
        {
            return Fail(TlsError.BadCompressionMethods, out error);
        }

        if (end - p < compressionLength)
        {
            return Fail(TlsError.BodyTooShort, out error);
        }

        p += compressionLength;

        var builder = new Builder
        {
            ServerNameOffset = -1,
            AlpnOffset = -1,
        };

        int extensionsOffset = 0;
        int extensionsLength = 0;
        // Pre-TLS 1.2 clients may omit the extensions block altogether (RFC 5246 §7.4.1.2).
        if (p < end)
        {
            if (end - p < 2)
            {
                return Fail(TlsError.BadExtensionsLength, out error);
            }

            extensionsLength = BinaryPrimitives.ReadUInt16BigEndian(msg.Slice(p));
            p += 2;
            if (extensionsLength != end - p)
            {
                return Fail(TlsError.BadExtensionsLength, out error);
            }

            extensionsOffset = p;
            if (!ReadExtensions(msg, p, end, ref builder, out error))
            {
                return false;
            }

            grease |= builder.Grease;
        }

        info = new ClientHelloInfo
        {
            MessageLength = end,
            LegacyVersion = legacyVersion,
            SessionIdOffset = sessionIdOffset,
            SessionIdLength = sessionIdLength,
            CipherSuitesOffset = cipherSuitesOffset,
            CipherSuitesLength = cipherSuitesLength,
            ExtensionsOffset = extensionsOffset,
            ExtensionsLength = extensionsLength,
            ExtensionCount = builder.Count,
            ServerNameOffset = builder.ServerNameOffset,
            ServerNameLength = builder.ServerNameLength,
            AlpnOffset = builder.AlpnOffset,
            AlpnLength = builder.AlpnLength,
            HasEch = builder.Ech,
            HasEsni = builder.Esni,
            OffersTls13 = builder.Tls13,
            HasQuicTransportParameters = builder.QuicTransportParameters,
            HasGrease = grease,
        };
        error = TlsError.None;
        return true;
    }

    /// <summary>RFC 8701 §2: GREASE values are 0x?A?A with both bytes equal.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsGrease(ushort value) => (value & 0x0F0F) == 0x0A0A && (value >> 8) == (value & 0xFF);

    private static bool ReadExtensions(ReadOnlySpan<byte> msg, int p, int end, ref Builder b, out TlsError error)
    {
        bool seenSupportedVersions = false;
        while (p < end)
        {
            if (end - p < 4)
            {
                return Fail(TlsError.BadExtension, out error);
            }

            ushort type = BinaryPrimitives.ReadUInt16BigEndian(msg.Slice(p));
            int length = BinaryPrimitives.ReadUInt16BigEndian(msg.Slice(p + 2));
            p += 4;
            if (end - p < length)
            {
                return Fail(TlsError.BadExtension, out error);
            }

            ReadOnlySpan<byte> data = msg.Slice(p, length);
            b.Count++;
            if (IsGrease(type))
            {
                b.Grease = true;
            }

            switch (type)
            {
                case ExtensionServerName:
                    if (b.SeenServerName)
                    {
                        return Fail(TlsError.DuplicateExtension, out error);
                    }

                    b.SeenServerName = true;
                    if (!ReadServerName(data, p, ref b))
                    {
                        return Fail(TlsError.BadServerName, out error);
                    }

                    break;

                case ExtensionAlpn:
                    if (b.AlpnOffset >= 0)
                    {
                        return Fail(TlsError.DuplicateExtension, out error);
                    }

                    if (!ValidateAlpn(data))
                    {
                        return Fail(TlsError.BadAlpn, out error);
                    }

                    b.AlpnOffset = p + 2;
                    b.AlpnLength = length - 2;
                    break;

                case ExtensionSupportedVersions:
                    if (seenSupportedVersions)
                    {
                        return Fail(TlsError.DuplicateExtension, out error);
                    }

                    seenSupportedVersions = true;
                    if (!ReadSupportedVersions(data, ref b))
                    {
                        return Fail(TlsError.BadSupportedVersions, out error);
                    }

                    break;

                case ExtensionSupportedGroups:
                    // NamedGroup named_group_list<2..2^16-1>; only looked at for GREASE, never rejected.
                    if (data.Length >= 2 && BinaryPrimitives.ReadUInt16BigEndian(data) == data.Length - 2)
                    {
                        b.Grease |= ContainsGrease(data.Slice(2));
                    }

                    break;

                case ExtensionQuicTransportParameters:
                    b.QuicTransportParameters = true;
                    break;

                case ExtensionEncryptedClientHello:
                    b.Ech = true;
                    break;

                case ExtensionEncryptedServerName:
                    b.Esni = true;
                    break;

                default:
                    break;
            }

            p += length;
        }

        error = TlsError.None;
        return true;
    }

    /// <summary>RFC 6066 §3: ServerName server_name_list&lt;1..2^16-1&gt;; the first host_name is kept.</summary>
    private static bool ReadServerName(ReadOnlySpan<byte> data, int dataOffset, ref Builder b)
    {
        if (data.Length < 2)
        {
            return false;
        }

        int listLength = BinaryPrimitives.ReadUInt16BigEndian(data);
        if (listLength == 0 || listLength != data.Length - 2)
        {
            return false;
        }

        int q = 2;
        while (q < data.Length)
        {
            if (data.Length - q < 3)
            {
                return false;
            }

            byte nameType = data[q];
            int nameLength = BinaryPrimitives.ReadUInt16BigEndian(data.Slice(q + 1));
            q += 3;
            // Unknown name types are read with host_name's shape, as deployed servers do.
            if (data.Length - q < nameLength || nameLength == 0)
            {
                return false;
            }

            if (nameType == NameTypeHostName && b.ServerNameOffset < 0)
            {
                b.ServerNameOffset = dataOffset + q;
                b.ServerNameLength = nameLength;
            }

            q += nameLength;
        }

        return true;
    }

    /// <summary>RFC 7301 §3.1: ProtocolName protocol_name_list&lt;2..2^16-1&gt;, each name &lt;1..2^8-1&gt;.</summary>
    private static bool ValidateAlpn(ReadOnlySpan<byte> data)
    {
        if (data.Length < 2)
        {
            return false;
        }

        int listLength = BinaryPrimitives.ReadUInt16BigEndian(data);
        if (listLength < 2 || listLength != data.Length - 2)
        {
            return false;
        }

        int q = 2;
        while (q < data.Length)
        {
            int nameLength = data[q++];
            if (nameLength == 0 || data.Length - q < nameLength)
            {
                return false;
            }

            q += nameLength;
        }

        return true;
    }

    /// <summary>RFC 8446 §4.2.1: ProtocolVersion versions&lt;2..254&gt; in a ClientHello.</summary>
    private static bool ReadSupportedVersions(ReadOnlySpan<byte> data, ref Builder b)
    {
        if (data.Length < 1)
        {
            return false;
        }

        int listLength = data[0];
        if (listLength < 2 || (listLength & 1) != 0 || listLength != data.Length - 1)
        {
            return false;
        }

        for (int q = 1; q < data.Length; q += 2)
        {
            ushort v = BinaryPrimitives.ReadUInt16BigEndian(data.Slice(q));
            if (v == VersionTls13)
            {
                b.Tls13 = true;
            }
            else if (IsGrease(v))
            {
                b.Grease = true;
            }
        }

        return true;
    }

    private static bool ContainsGrease(ReadOnlySpan<byte> uint16List)
    {
        for (int i = 0; i + 1 < uint16List.Length; i += 2)
        {
            if (IsGrease(BinaryPrimitives.ReadUInt16BigEndian(uint16List.Slice(i))))
            {
                return true;
            }
        }

        return false;
    }

    private static bool Fail(TlsError reason, out TlsError error)
    {
        error = reason;
        return false;
    }

    private struct Builder
    {
        public int Count;
        public int ServerNameOffset;
        public int ServerNameLength;
        public bool SeenServerName;
        public int AlpnOffset;
        public int AlpnLength;
        public bool Ech;
        public bool Esni;
        public bool Tls13;
        public bool QuicTransportParameters;
        public bool Grease;
    }
}
