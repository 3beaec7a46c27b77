using DnsWarden.Wire.Quic;

namespace DnsWarden.Wire.Tests.Quic;

public sealed class QuicFrameReaderTests
{
    [Fact]
    public void AllInitialFrameTypes()
    {
        byte[] payload =
        [
            0x01,                                   // PING
            0x02, 0x05, 0x00, 0x01, 0x00, 0x01, 0x01, // ACK: largest 5, delay 0, 1 range, first 0, gap 1, len 1
            0x03, 0x05, 0x00, 0x00, 0x00, 0x01, 0x02, 0x03, // ACK_ECN with three counts
            0x06, 0x40, 0x10, 0x03, 0xAA, 0xBB, 0xCC,  // CRYPTO offset 16, 3 bytes
            0x1c, 0x0a, 0x06, 0x02, (byte)'n', (byte)'o', // CONNECTION_CLOSE, code 10, frame 6, reason "no"
            0x00, 0x00, 0x00,                        // PADDING run
        ];
        var reader = new QuicFrameReader(payload);
        var types = new List<QuicFrameType>();
        while (reader.TryReadNext(out QuicFrame f))
        {
            types.Add(f.Type);
            if (f.Type == QuicFrameType.Crypto)
            {
                Assert.Equal(16UL, f.CryptoOffset);
                Assert.Equal([0xAA, 0xBB, 0xCC], f.GetData(payload).ToArray());
            }

            if (f.Type == QuicFrameType.ConnectionClose)
            {
                Assert.Equal(10UL, f.ErrorCode);
                Assert.Equal("no"u8.ToArray(), f.GetData(payload).ToArray());
            }

            if (f.Type == QuicFrameType.Padding)
            {
                Assert.Equal(3, f.Length);
            }
        }

        Assert.Equal(QuicError.None, reader.Error);
        Assert.Equal(payload.Length, reader.Position);
        Assert.Equal(
            [QuicFrameType.Ping, QuicFrameType.Ack, QuicFrameType.Ack, QuicFrameType.Crypto, QuicFrameType.ConnectionClose, QuicFrameType.Padding],
            types);
    }

    [Fact]
    public void UnknownFrame_StopsSafely()
    {
        byte[] payload = [0x01, 0x08, 0x00, 0x01, 0x06, 0x00, 0x01, 0xAA];
        var reader = new QuicFrameReader(payload);
        Assert.True(reader.TryReadNext(out _));
        Assert.False(reader.TryReadNext(out _));
        Assert.Equal(QuicError.UnknownFrame, reader.Error);
        Assert.Equal(0x08UL, reader.UnknownFrameType);
        Assert.False(reader.TryReadNext(out _));
    }

    [Theory]
    [InlineData(new byte[] { 0x06, 0x00, 0x05, 1, 2 })]             // CRYPTO data past end
    [InlineData(new byte[] { 0x06, 0x00 })]                          // CRYPTO without length
    [InlineData(new byte[] { 0x06, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0 })] // offset + length >= 2^62
    [InlineData(new byte[] { 0x02, 0x01, 0x00, 0xBF, 0xFF, 0xFF, 0xFF, 0x00 })] // ACK range count beyond the bytes
    [InlineData(new byte[] { 0x03, 0x01, 0x00, 0x00, 0x00, 0x01 })]  // ACK_ECN missing counts
    [InlineData(new byte[] { 0x1c, 0x01, 0x06, 0x05, (byte)'x' })]   // reason past end
    [InlineData(new byte[] { 0x40 })]                                // truncated frame type
    public void Malformed(byte[] payload)
    {
        var reader = new QuicFrameReader(payload);
        while (reader.TryReadNext(out _))
        {
        }

        Assert.Equal(QuicError.MalformedFrame, reader.Error);
    }

    [Fact]
    public void RandomPayloads_NeverThrow()
    {
        var rng = new Random(99);
        for (int i = 0; i < 5000; i++)
        {
            var payload = new byte[rng.Next(0, 64)];
            rng.NextBytes(payload);
            if (payload.Length > 0)
            {
                payload[0] = (byte)(new byte[] { 0, 1, 2, 3, 6, 0x1c, 0x1d }[rng.Next(7)]);
            }

            var reader = new QuicFrameReader(payload);
            int frames = 0;
            while (reader.TryReadNext(out QuicFrame f))
            {
                Assert.True(f.Length > 0);
                Assert.InRange(f.DataOffset + f.DataLength, 0, payload.Length);
                frames++;
            }

            Assert.True(frames <= payload.Length);
        }
    }
}
