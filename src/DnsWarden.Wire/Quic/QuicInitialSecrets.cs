using System.Security.Cryptography;

namespace DnsWarden.Wire.Quic;

/// <summary>
/// Initial packet protection keys (RFC 9001 §5.2; RFC 9369 §3.3 for version 2), derived from the client's first
/// Destination Connection ID with HKDF-SHA256. No heap allocation of our own.
/// </summary>
public static class QuicInitialSecrets
{
    public const int SecretLength = 32;
    public const int KeyLength = 16;   // AEAD_AES_128_GCM
    public const int IvLength = 12;
    public const int HeaderProtectionKeyLength = 16;

    /// <summary>RFC 9001 §5.2.</summary>
    private static readonly byte[] s_saltV1 =
        [0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a];

    /// <summary>RFC 9369 §3.3.1.</summary>
    private static readonly byte[] s_saltV2 =
        [0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9];

    /// <summary>draft-ietf-quic-tls-29 §5.2.</summary>
    private static readonly byte[] s_saltDraft29 =
        [0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97, 0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0, 0x43, 0x90, 0xa8, 0x99];

    /// <summary>HKDF-Extract then HKDF-Expand-Label(initial_secret, "client in"/"server in", "", 32).</summary>
    public static bool TryDeriveInitialSecret(uint version, ReadOnlySpan<byte> destinationConnectionId, bool server, Span<byte> secret)
    {
        ReadOnlySpan<byte> salt = version switch
        {
            QuicVersion.V1 => s_saltV1,
            QuicVersion.V2 => s_saltV2,
            QuicVersion.Draft29 => s_saltDraft29,
            _ => default,
        };
        if (salt.IsEmpty || secret.Length < SecretLength)
        {
            return false;
        }

        Span<byte> initialSecret = stackalloc byte[SecretLength];
        HKDF.Extract(HashAlgorithmName.SHA256, destinationConnectionId, salt, initialSecret);
        ExpandLabel(initialSecret, server ? "server in"u8 : "client in"u8, secret.Slice(0, SecretLength));
        CryptographicOperations.ZeroMemory(initialSecret);
        return true;
    }

    /// <summary>Derives the AEAD key, IV and header protection key for one direction.</summary>
    public static bool TryDeriveKeys(
        uint version,
        ReadOnlySpan<byte> destinationConnectionId,
        bool server,
        Span<byte> key,
        Span<byte> iv,
        Span<byte> headerProtectionKey)
    {
        if (key.Length < KeyLength || iv.Length < IvLength || headerProtectionKey.Length < HeaderProtectionKeyLength)
        {
            return false;
        }

        Span<byte> secret = stackalloc byte[SecretLength];
        if (!TryDeriveInitialSecret(version, destinationConnectionId, server, secret))
        {
            return false;
        }

        // RFC 9369 §3.3.2: version 2 renames the labels so that its keys differ from version 1's.
        bool v2 = version == QuicVersion.V2;
        ExpandLabel(secret, v2 ? "quicv2 key"u8 : "quic key"u8, key.Slice(0, KeyLength));
        ExpandLabel(secret, v2 ? "quicv2 iv"u8 : "quic iv"u8, iv.Slice(0, IvLength));
        ExpandLabel(secret, v2 ? "quicv2 hp"u8 : "quic hp"u8, headerProtectionKey.Slice(0, HeaderProtectionKeyLength));
        CryptographicOperations.ZeroMemory(secret);
        return true;
    }

    /// <summary>
    /// HKDF-Expand-Label (RFC 8446 §7.1) with an empty context: info = uint16 length, opaque label&lt;7..255&gt;
    /// = "tls13 " + label, opaque context&lt;0..255&gt; = "".
    /// </summary>
    internal static void ExpandLabel(ReadOnlySpan<byte> secret, ReadOnlySpan<byte> label, Span<byte> output)
    {
        ReadOnlySpan<byte> prefix = "tls13 "u8;
        Span<byte> info = stackalloc byte[2 + 1 + 6 + 32 + 1];
        int n = 0;
        info[n++] = (byte)(output.Length >> 8);
        info[n++] = (byte)output.Length;
        info[n++] = (byte)(prefix.Length + label.Length);
        prefix.CopyTo(info.Slice(n));
        n += prefix.Length;
        label.CopyTo(info.Slice(n));
        n += label.Length;
        info[n++] = 0;
        HKDF.Expand(HashAlgorithmName.SHA256, secret, output, info.Slice(0, n));
    }
}
