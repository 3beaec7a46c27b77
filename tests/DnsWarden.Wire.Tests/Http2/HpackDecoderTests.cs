using System.Buffers;
using System.Diagnostics;
using DnsWarden.Wire.Http2;
using FsCheck.Xunit;

namespace DnsWarden.Wire.Tests.Http2;

/// <summary>
/// The HPACK decoder against RFC 7541 Appendix C (C.3 and C.5 plain, C.4 and C.6 Huffman, C.5/C.6 with a 256-byte
/// table and evictions), Python's <c>hpack</c> as an oracle, named hostile blocks (each its own error, never an
/// exception) and the encoder's round trip.
/// </summary>
public sealed class HpackDecoderTests
{
    private static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));

    private static List<HpackField> Decode(HpackDecoder decoder, byte[] block)
    {
        var fields = new List<HpackField>();
        Assert.True(decoder.TryDecode(block, fields, out HpackError error, out int offset), $"{error} at {offset}");
        return fields;
    }

    private static HpackField F(string name, string value) => new(name, value);

    private static readonly HpackField[][] s_requests =
    [
        [F(":method", "GET"), F(":scheme", "http"), F(":path", "/"), F(":authority", "www.example.com")],
        [F(":method", "GET"), F(":scheme", "http"), F(":path", "/"), F(":authority", "www.example.com"), F("cache-control", "no-cache")],
        [F(":method", "GET"), F(":scheme", "https"), F(":path", "/index.html"), F(":authority", "www.example.com"), F("custom-key", "custom-value")],
    ];

    private static readonly HpackField[][] s_responses =
    [
        [F(":status", "302"), F("cache-control", "private"), F("date", "Mon, 21 Oct 2013 20:13:21 GMT"), F("location", "https://www.example.com")],
        [F(":status", "307"), F("cache-control", "private"), F("date", "Mon, 21 Oct 2013 20:13:21 GMT"), F("location", "https://www.example.com")],
        [F(":status", "200"), F("cache-control", "private"), F("date", "Mon, 21 Oct 2013 20:13:22 GMT"), F("location", "https://www.example.com"), F("content-encoding", "gzip"), F("set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1")],
    ];

    /// <summary>RFC 7541 C.3 (no Huffman) and C.4 (Huffman): three requests on one connection; table sizes 57, 110, 164.</summary>
    [Theory]
    [InlineData("8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d", "8286 84be 5808 6e6f 2d63 6163 6865", "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65")]
    [InlineData("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff", "8286 84be 5886 a8eb 1064 9cbf", "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf")]
    public void Rfc7541RequestExamples(string first, string second, string third)
    {
        var decoder = new HpackDecoder();
        int[] sizes = [57, 110, 164];
        string[] blocks = [first, second, third];
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(s_requests[i], Decode(decoder, Hex(blocks[i])));
            Assert.Equal(sizes[i], decoder.TableSize);
        }
    }

    /// <summary>RFC 7541 C.5 (no Huffman) and C.6 (Huffman): three responses, a 256-byte table, entries evicted; sizes 222, 222, 215.</summary>
    [Theory]
    [InlineData(
        "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
        "4803 3330 37c1 c0bf",
        "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31")]
    [InlineData(
        "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
        "4883 640e ffc1 c0bf",
        "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07")]
    public void Rfc7541ResponseExamplesWithEviction(string first, string second, string third)
    {
        var decoder = new HpackDecoder(maxTableSize: 256);
        int[] sizes = [222, 222, 215];
        int[] counts = [4, 4, 3];
        string[] blocks = [first, second, third];
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(s_responses[i], Decode(decoder, Hex(blocks[i])));
            Assert.Equal(sizes[i], decoder.TableSize);
            Assert.Equal(counts[i], decoder.TableCount);
        }
    }

    /// <summary>Every proper prefix of a block fails (truncated), never an exception.</summary>
    [Fact]
    public void EveryProperPrefixOfAHuffmanBlockFailsCleanly()
    {
        byte[] block = Hex("8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf");
        for (int cut = 1; cut < block.Length; cut++)
        {
            var decoder = new HpackDecoder();

            // bf refers to the dynamic table, empty here: every cut after it is an index error, earlier cuts decode or fail.
            _ = decoder.TryDecode(block.AsSpan(0, cut), [], out HpackError error, out _);
            Assert.True(error is HpackError.None or HpackError.Truncated or HpackError.IndexOutOfRange or HpackError.BadHuffman, $"cut {cut}: {error}");
        }

        for (int cut = 5; cut < block.Length; cut++)
        {
            var copy = new HpackDecoder();
            _ = Decode(copy, Hex("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff"));
            _ = Decode(copy, Hex("8286 84be 5886 a8eb 1064 9cbf"));
            Assert.False(copy.TryDecode(block.AsSpan(0, cut), [], out HpackError error, out _), $"cut {cut} decoded");
            Assert.True(error is HpackError.Truncated or HpackError.BadHuffman, $"cut {cut}: {error}");
        }
    }

    [Theory]
    [InlineData("80", HpackError.IndexZero, 0)]
    [InlineData("be", HpackError.IndexOutOfRange, 0)]
    [InlineData("ff ff ff ff ff 0f", HpackError.IntegerOverflow, 0)]
    [InlineData("ff 80 80 80 80 80 80 01", HpackError.IntegerOverflow, 0)]
    [InlineData("ff 80", HpackError.Truncated, 0)]
    [InlineData("3f e1 ff 03", HpackError.TableSizeTooLarge, 0)]
    [InlineData("82 20", HpackError.TableSizeUpdateNotFirst, 1)]
    [InlineData("40 05 61 62", HpackError.Truncated, 0)]
    [InlineData("00 81 ff 00", HpackError.BadHuffman, 0)]
    [InlineData("00 84 ff ff ff ff 00", HpackError.BadHuffman, 0)]
    [InlineData("00 81 00 00", HpackError.BadHuffman, 0)]
    [InlineData("00 7f ff ff 03", HpackError.TooLarge, 0)]
    public void HostileBlocksGiveTheirErrorNeverAnException(string hex, HpackError expected, int offset)
    {
        var decoder = new HpackDecoder();
        Assert.False(decoder.TryDecode(Hex(hex), [], out HpackError error, out int at));
        Assert.Equal(expected, error);
        Assert.Equal(offset, at);
    }

    /// <summary>RFC 7541 §5.2: EOS inside a string (30 one-bits followed by padding) is an error.</summary>
    [Fact]
    public void TheEosSymbolInsideAStringIsAnError()
    {
        Assert.False(new HpackDecoder().TryDecode(Hex("00 01 61 84 ff ff ff fc"), [], out HpackError error, out _));
        Assert.Equal(HpackError.BadHuffman, error);
    }

    [Fact]
    public void ADecodedListOverTheBoundIsAnError()
    {
        var big = new ArrayBufferWriter<byte>();
        HpackEncoder.Encode([F("a", new string('x', 40_000)), F("b", new string('y', 40_000))], big);
        var decoder = new HpackDecoder(maxHeaderListSize: 64 * 1024);
        var fields = new List<HpackField>();
        Assert.False(decoder.TryDecode(big.WrittenSpan, fields, out HpackError error, out _));
        Assert.Equal(HpackError.TooLarge, error);
        Assert.Single(fields);
    }

    [Fact]
    public void ASizeUpdateWithinTheBoundShrinksTheTable()
    {
        var decoder = new HpackDecoder();
        _ = Decode(decoder, Hex("8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d"));
        Assert.Equal(57, decoder.TableSize);
        Assert.Empty(Decode(decoder, Hex("20")));
        Assert.Equal(0, decoder.TableSize);
        Assert.False(decoder.TryDecode(Hex("be"), [], out HpackError error, out _));
        Assert.Equal(HpackError.IndexOutOfRange, error);
    }

    [Property(MaxTest = 300, Replay = "(20261206,77)")]
    public void EncodeThenDecodeGivesTheList(int seed)
    {
        var rng = new Random(seed);
        string[] names = [":method", ":path", ":authority", "host", "user-agent", "x-custom", "cookie", "content-type", ""];
        var fields = new List<HpackField>();
        for (int i = rng.Next(0, 12); i > 0; i--)
        {
            string name = names[rng.Next(names.Length)];
            name = name.Length == 0 ? "n" + rng.Next(1000) : name;
            char[] value = new char[rng.Next(0, rng.Next(2) == 0 ? 10 : 300)];
            for (int j = 0; j < value.Length; j++)
            {
                value[j] = (char)rng.Next(0, 256);
            }

            fields.Add(F(name, new string(value)));
        }

        var block = new ArrayBufferWriter<byte>();
        HpackEncoder.Encode(fields, block);
        var decoder = new HpackDecoder();
        Assert.Equal(fields, Decode(decoder, block.WrittenSpan.ToArray()));
        Assert.Equal(0, decoder.TableSize);
    }

    [Property(MaxTest = 300, Replay = "(20261206,79)")]
    public void HuffmanRoundTripsEveryOctet(int seed)
    {
        var rng = new Random(seed);
        byte[] text = new byte[rng.Next(0, 200)];
        rng.NextBytes(text);
        byte[] coded = new byte[HpackHuffman.EncodedLength(text)];
        Assert.Equal(coded.Length, HpackHuffman.Encode(text, coded));
        byte[] back = new byte[text.Length * 4];
        Assert.True(HpackHuffman.TryDecode(coded, back, out int written, out HpackError error), error.ToString());
        Assert.Equal(text, back[..written]);
    }

    /// <summary>
    /// Python's <c>hpack</c> (python3-hpack) encodes request lists with Huffman and its dynamic table, over several blocks on one
    /// context; this decoder must read each back exactly.
    /// </summary>
    [Fact]
    public async Task PythonHpackEncodedBlocksDecode()
    {
        const string Python = "/usr/bin/python3";
        if (!File.Exists(Python) || !Directory.Exists("/usr/lib/python3/dist-packages/hpack"))
        {
            Assert.Skip("python3-hpack is not installed (scripts/setup.sh --test)");
        }

        const string Script = """
            import random, sys
            from hpack import Encoder
            rng = random.Random(7)
            e = Encoder()
            for i in range(40):
                headers = [(":method", rng.choice(["GET", "POST", "PUT"])), (":scheme", "https"), (":path", "/p/%d?q=%s" % (i, "x" * rng.randint(0, 60))),
                           (":authority", rng.choice(["api.example.test", "a.example.test"])), ("user-agent", "agent/%d" % rng.randint(0, 3)),
                           ("x-big", "".join(chr(rng.randint(32, 126)) for _ in range(rng.randint(0, 400))))]
                if i == 20:
                    e.header_table_size = 512
                block = e.encode(headers, huffman=rng.random() < 0.7)
                print(block.hex(), "\t".join(n + "=" + v for n, v in headers))
            """;
        var start = new ProcessStartInfo(Python, ["-c", Script]) { RedirectStandardOutput = true };
        using Process p = Process.Start(start)!;
        string output = await p.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        await p.WaitForExitAsync(TestContext.Current.CancellationToken);
        Assert.Equal(0, p.ExitCode);

        var decoder = new HpackDecoder();
        string[] lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(40, lines.Length);
        foreach (string line in lines)
        {
            int space = line.IndexOf(' ', StringComparison.Ordinal);
            HpackField[] expected = [.. line[(space + 1)..].Split('\t').Select(nv => F(nv[..nv.IndexOf('=', 1)], nv[(nv.IndexOf('=', 1) + 1)..]))];
            Assert.Equal(expected, Decode(decoder, Convert.FromHexString(line[..space])));
        }

        Assert.InRange(decoder.TableSize, 1, 512);
    }
}
