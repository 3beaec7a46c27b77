using System.Net.Security;
using DnsWarden.Wire.Tls;

namespace DnsWarden.Wire.Tests.Tls;

/// <summary>
/// Captures the first flight .NET's own TLS client writes (no network: the transport is an in-memory stream that
/// records writes and reports end of stream on read) and checks that the reader sees the SNI and ALPN set on it.
/// </summary>
public sealed class SslStreamOracleTests
{
    [Fact]
    public async Task SslStreamClientHello_SniAndAlpn()
    {
        var transport = new CaptureStream();
        await using (var ssl = new SslStream(transport, leaveInnerStreamOpen: true))
        {
            var options = new SslClientAuthenticationOptions
            {
                TargetHost = "doh.example.test",
                ApplicationProtocols = [SslApplicationProtocol.Http2, SslApplicationProtocol.Http11],
                RemoteCertificateValidationCallback = static (_, _, _, _) => false,
            };
            await Assert.ThrowsAnyAsync<Exception>(() => ssl.AuthenticateAsClientAsync(options, TestContext.Current.CancellationToken));
        }

        byte[] stream = transport.Written.ToArray();
        Assert.True(stream.Length > 5, "SslStream wrote nothing");
        Assert.True(TlsRecordReader.IsLikelyTlsStart(stream));

        var scratch = new byte[16384];
        Assert.True(TlsRecordReader.TryGetClientHello(stream, scratch, out int length, out TlsStreamStatus status), status.ToString());
        ReadOnlySpan<byte> msg = scratch.AsSpan(0, length);
        Assert.True(TlsClientHello.TryRead(msg, out ClientHelloInfo info, out TlsError error), error.ToString());
        Assert.Equal("doh.example.test", info.ServerNameString(msg));
        Assert.Equal(["h2", "http/1.1"], info.AlpnList(msg));
        Assert.True(info.AlpnContains(msg, "h2"u8));

        // The same bytes fed one at a time, as TCP segments might deliver them.
        for (int n = 0; n < stream.Length; n++)
        {
            bool done = TlsRecordReader.TryGetClientHello(stream.AsSpan(0, n), scratch, out int l, out status);
            if (done)
            {
                Assert.Equal(length, l);
                break;
            }

            Assert.Equal(TlsStreamStatus.NeedMoreData, status);
        }
    }

    private sealed class CaptureStream : Stream
    {
        public MemoryStream Written { get; } = new();

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => 0;

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => ValueTask.FromResult(0);

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => Written.Write(buffer, offset, count);

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Written.Write(buffer.Span);
            return ValueTask.CompletedTask;
        }
    }
}
