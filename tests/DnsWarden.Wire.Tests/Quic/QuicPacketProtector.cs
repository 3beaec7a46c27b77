using System.Security.Cryptography;
using DnsWarden.Wire.Quic;

namespace DnsWarden.Wire.Tests.Quic;

/// <summary>
/// Test-only client Initial writer: builds the header, encrypts with AEAD_AES_128_GCM and applies header
/// protection per RFC 9001 §5. Checked against the RFC 9001 / RFC 9369 Appendix A.2 packets.
/// </summary>
internal static class QuicPacketProtector
{
    public static byte[] BuildClientInitial(
        uint version,
        byte[] dcid,
        byte[] scid,
        byte[] frames,
        uint packetNumber = 0,
        int packetNumberLength = 4,
        byte[]? token = null,
        int padTo = 1200)
    {
        token ??= [];
        int typeBits = version == QuicVersion.V2 ? 1 : 0;
        var prefix = new List<byte> { (byte)(0xC0 | (typeBits << 4) | (packetNumberLength - 1)) };
        prefix.Add((byte)(version >> 24));
        prefix.Add((byte)(version >> 16));
        prefix.Add((byte)(version >> 8));
        prefix.Add((byte)version);
        prefix.Add((byte)dcid.Length);
        prefix.AddRange(dcid);
        prefix.Add((byte)scid.Length);
        prefix.AddRange(scid);
        prefix.AddRange(VarInt((ulong)token.Length));
        prefix.AddRange(token);

        int payloadLength = Math.Max(frames.Length, 4 + 16 - packetNumberLength);
        while (prefix.Count + VarInt((ulong)(packetNumberLength + payloadLength + 16)).Length + packetNumberLength + payloadLength + 16 < padTo)
        {
            payloadLength++;
        }

        byte[] payload = new byte[payloadLength];
        frames.CopyTo(payload, 0);

        var header = new List<byte>(prefix);
        header.AddRange(VarInt((ulong)(packetNumberLength + payloadLength + 16)));
        int pnOffset = header.Count;
        for (int i = packetNumberLength - 1; i >= 0; i--)
        {
            header.Add((byte)(packetNumber >> (8 * i)));
        }

        byte[] key = new byte[16], iv = new byte[12], hp = new byte[16];
        Assert.True(QuicInitialSecrets.TryDeriveKeys(version, dcid, server: false, key, iv, hp));
        byte[] nonce = (byte[])iv.Clone();
        for (int i = 0; i < 8; i++)
        {
            nonce[11 - i] ^= (byte)((ulong)packetNumber >> (8 * i));
        }

        byte[] aad = [.. header];
        byte[] cipher = new byte[payloadLength];
        byte[] tag = new byte[16];
        using (var gcm = new AesGcm(key, 16))
        {
            gcm.Encrypt(nonce, payload, cipher, tag, aad);
        }

        byte[] packet = [.. aad, .. cipher, .. tag];
        byte[] mask = new byte[16];
        using (var aes = Aes.Create())
        {
            aes.SetKey(hp);
            aes.EncryptEcb(packet.AsSpan(pnOffset + 4, 16), mask, PaddingMode.None);
        }

        packet[0] ^= (byte)(mask[0] & 0x0F);
        for (int i = 0; i < packetNumberLength; i++)
        {
            packet[pnOffset + i] ^= mask[1 + i];
        }

        return packet;
    }

    /// <summary>A CRYPTO frame (RFC 9000 §19.6).</summary>
    public static byte[] CryptoFrame(ulong offset, ReadOnlySpan<byte> data) =>
        [0x06, .. VarInt(offset), .. VarInt((ulong)data.Length), .. data];

    public static byte[] VarInt(ulong value)
    {
        var b = new byte[8];
        Assert.True(QuicVarInt.TryWrite(b, value, out int n));
        return b[..n];
    }
}
