using DnsWarden.Wire.Dns;
using static DnsWarden.Wire.Tests.Dns.DnsTestUtil;

namespace DnsWarden.Wire.Tests.Dns;

public sealed class DnsNameTests
{
    /// <summary>
    /// RFC 1035 §4.1.4 example: F.ISI.ARPA at 20, FOO.F.ISI.ARPA at 40 pointing to 20, ARPA at 46
    /// pointing to 26 (the "ARPA" label inside F.ISI.ARPA), and the root at 48.
    /// </summary>
    private static byte[] Rfc1035Figure()
    {
        var m = new byte[64];
        byte[] fIsiArpa = WireName("F.ISI.ARPA");
        fIsiArpa.CopyTo(m, 20);
        new byte[] { 3, (byte)'F', (byte)'O', (byte)'O', 0xC0, 20 }.CopyTo(m, 40);
        new byte[] { 0xC0, 26 }.CopyTo(m, 46);
        m[48] = 0;
        return m;
    }

    [Theory]
    [InlineData(20, "F.ISI.ARPA", 12, 3)]
    [InlineData(40, "FOO.F.ISI.ARPA", 6, 4)]
    [InlineData(46, "ARPA", 2, 1)]
    [InlineData(48, ".", 1, 0)]
    public void Rfc1035_4_1_4_Example_Decodes(int offset, string expected, int inPlace, int labels)
    {
        byte[] m = Rfc1035Figure();
        Assert.True(DnsName.TryRead(m, offset, out DnsName name, out int consumed, out DnsError error), error.ToString());
        Assert.Equal(expected, name.ToString());
        Assert.Equal(inPlace, consumed);
        Assert.Equal(inPlace, name.WireLengthInMessage);
        Assert.Equal(labels, name.LabelCount);
        Assert.Equal(WireName(expected).Length, name.EncodedLength);
        Assert.True(name.EqualsAscii(expected.ToLowerInvariant()));
    }

    [Fact]
    public void Labels_FollowPointers()
    {
        byte[] m = Rfc1035Figure();
        Assert.True(DnsName.TryRead(m, 40, out DnsName name, out _, out _));
        var labels = new List<string>();
        foreach (ReadOnlySpan<byte> label in name.EnumerateLabels())
        {
            labels.Add(System.Text.Encoding.ASCII.GetString(label));
        }

        Assert.Equal(["FOO", "F", "ISI", "ARPA"], labels);
    }

    public static TheoryData<string, byte[], DnsError> Adversarial => new()
    {
        // Pointer to itself: the pointer at 12 targets 12.
        { "self pointer", [.. new byte[12], 0xC0, 12], DnsError.ForwardPointer },

        // Two pointers pointing at each other (14 -> 12 is backwards, 12 -> 14 is not).
        { "pointer loop", [.. new byte[12], 0xC0, 14, 0xC0, 12], DnsError.ForwardPointer },

        // A label then a pointer back to that label's start: a one-label loop.
        { "label loop", [.. new byte[12], 1, (byte)'a', 0xC0, 12], DnsError.ForwardPointer },

        // Forward pointer.
        { "forward pointer", [.. new byte[12], 0xC0, 20, .. new byte[6], 1, (byte)'a', 0], DnsError.ForwardPointer },

        // Pointer into the header.
        { "pointer into header", [.. new byte[12], 0xC0, 4], DnsError.PointerIntoHeader },

        // 0x40 extended label type (RFC 6891 §5) and the reserved 0x80 prefix.
        { "label type 0x40", [.. new byte[12], 0x41, (byte)'a', 0], DnsError.BadLabelType },
        { "label type 0x80", [.. new byte[12], 0x81, (byte)'a', 0], DnsError.BadLabelType },

        // Missing root, truncated label, truncated pointer.
        { "no root", [.. new byte[12], 1, (byte)'a'], DnsError.Truncated },
        { "truncated label", [.. new byte[12], 5, (byte)'a'], DnsError.Truncated },
        { "truncated pointer", [.. new byte[12], 0xC0], DnsError.Truncated },
    };

    [Theory]
    [MemberData(nameof(Adversarial))]
    public void Adversarial_Names_Fail_WithReason(string what, byte[] message, DnsError expected)
    {
        Assert.False(DnsName.TryRead(message, 12, out _, out _, out DnsError error), what);
        Assert.Equal(expected, error);
    }

    [Fact]
    public void ChainOfBackwardPointers_IsAccepted()
    {
        // 12: "a" root; 15: ptr->12; 17: ptr->15. Backward at each hop, so allowed.
        byte[] m = [.. new byte[12], 1, (byte)'a', 0, 0xC0, 12, 0xC0, 15];
        Assert.True(DnsName.TryRead(m, 17, out DnsName name, out int consumed, out _));
        Assert.Equal("a", name.ToString());
        Assert.Equal(2, consumed);
    }

    [Fact]
    public void LongBackwardPointerChain_IsBoundedByHopLimit()
    {
        // Pointers each to the previous one: backwards (no loop), so only the hop limit can stop the walk. A chain of
        // exactly the limit is read; one more hop is refused.
        static (bool Ok, DnsError Error) Walk(int pointers)
        {
            var m = new List<byte>(new byte[12]) { 0 };
            int previous = 12;
            for (int i = 0; i < pointers; i++)
            {
                int at = m.Count;
                m.Add((byte)(0xC0 | (previous >> 8)));
                m.Add((byte)previous);
                previous = at;
            }

            bool ok = DnsName.TryRead([.. m], previous, out _, out _, out DnsError error);
            return (ok, error);
        }

        Assert.Equal((true, DnsError.None), Walk(DnsName.MaxPointerHops));
        Assert.Equal((false, DnsError.TooManyPointers), Walk(DnsName.MaxPointerHops + 1));
    }

    [Fact]
    public void HopLimit_Rejects_ExcessiveChains()
    {
        // Build 130 chained pointers using 14-bit offsets.
        var m = new List<byte>(new byte[12]) { 0 };
        int previous = 12;
        for (int i = 0; i < 130; i++)
        {
            int at = m.Count;
            m.Add((byte)(0xC0 | (previous >> 8)));
            m.Add((byte)previous);
            previous = at;
        }

        Assert.False(DnsName.TryRead([.. m], previous, out _, out _, out DnsError error));
        Assert.Equal(DnsError.TooManyPointers, error);
    }

    [Fact]
    public void Enumeration_AfterBufferIsRewrittenIntoALoop_StillTerminates()
    {
        byte[] m = [.. new byte[12], 1, (byte)'a', 0, 0xC0, 12];
        Assert.True(DnsName.TryRead(m, 15, out DnsName name, out _, out _));
        Assert.Equal("a", name.ToString());

        // The caller rewrites the buffer under a validated name: 15 -> 12 -> 15 -> ...
        m[12] = 0xC0;
        m[13] = 15;
        int labels = 0;
        foreach (ReadOnlySpan<byte> unused in name)
        {
            labels++;
        }

        Assert.Equal(0, labels);
    }

    private static string NameOfTextLength(int textLength)
    {
        // Labels of 63 joined by dots, the last one shortened to reach the exact length.
        var parts = new List<string>();
        int remaining = textLength;
        while (remaining > 0)
        {
            int take = Math.Min(63, remaining);
            parts.Add(new string('a', take));
            remaining -= take + 1;
        }

        string s = string.Join('.', parts);
        return s.Substring(0, textLength).TrimEnd('.');
    }

    [Theory]
    [InlineData(253, true)]
    [InlineData(254, false)]
    [InlineData(255, false)]
    public void NameLength_Limit_253Text_255Wire(int textLength, bool valid)
    {
        string text = NameOfTextLength(textLength);
        Assert.Equal(textLength, text.Length);
        byte[] wire = WireName(text);
        Assert.Equal(textLength + 2, wire.Length);
        byte[] m = [.. new byte[12], .. wire];
        bool ok = DnsName.TryRead(m, 12, out DnsName name, out _, out DnsError error);
        Assert.Equal(valid, ok);
        if (valid)
        {
            Assert.Equal(255, name.EncodedLength);
            Assert.Equal(text, name.ToString());
        }
        else
        {
            Assert.Equal(DnsError.NameTooLong, error);
        }

        // The encoder used by the writer enforces the same limit.
        Span<byte> buf = stackalloc byte[300];
        Assert.Equal(valid, DnsNameSource.FromText(text).TryEncode(buf, out _, out DnsError encodeError));
        Assert.Equal(valid ? DnsError.None : DnsError.NameTooLong, encodeError);
    }

    [Fact]
    public void NameTooLong_ThroughPointers_IsCaught()
    {
        // 200-byte name then a 100-byte prefix pointing at it: 300 octets in total.
        string tail = NameOfTextLength(198);
        byte[] tailWire = WireName(tail);
        byte[] prefix = WireName(NameOfTextLength(98));
        byte[] m = [.. new byte[12], .. tailWire, .. prefix.AsSpan(0, prefix.Length - 1), 0xC0, 12];
        Assert.False(DnsName.TryRead(m, 12 + tailWire.Length, out _, out _, out DnsError error));
        Assert.Equal(DnsError.NameTooLong, error);
    }

    [Fact]
    public void Label63_Ok_Label64_Rejected()
    {
        byte[] ok = [.. new byte[12], 63, .. new byte[63], 0];
        Assert.True(DnsName.TryRead(ok, 12, out _, out _, out _));

        // A 64 length byte is 0x40: the extended label type.
        byte[] bad = [.. new byte[12], 64, .. new byte[64], 0];
        Assert.False(DnsName.TryRead(bad, 12, out _, out _, out DnsError error));
        Assert.Equal(DnsError.BadLabelType, error);

        Span<byte> buf = stackalloc byte[300];
        Assert.False(DnsNameSource.FromText(new string('x', 64) + ".com").TryEncode(buf, out _, out DnsError e));
        Assert.Equal(DnsError.LabelTooLong, e);
    }

    [Theory]
    // Names come from the network and go into files: nothing a path, a shell or a config parser reads is left as itself
    // (ld.so.preload splits on ':' and whitespace, a path on '/').
    [InlineData("x.a:/path/lib:b.test", @"x.a\058\047path\047lib\058b.test")]
    [InlineData("a b.c$d;e.f\"g'h", @"a\032b.c\036d\059e.f\034g\039h")]
    [InlineData("_sip._tcp.*.Example-1.com", "_sip._tcp.*.Example-1.com")]
    [InlineData("(x)@y=z+w,v|u&t<s>r`q~p!o#n%m^l{k}j[i]", @"\040x\041\064y\061z\043w\044v\124u\038t\060s\062r\096q\126p\033o\035n\037m\094l\123k\125j\091i\093")]
    public void Format_EscapesEveryOctetButLettersDigitsHyphenUnderscoreStar(string labels, string expected)
    {
        // One label per dot of the input, each octet as given (no escape processing).
        string[] parts = labels.Split('.');
        byte[] m = [.. new byte[12], .. parts.SelectMany(p => new[] { (byte)p.Length }.Concat(System.Text.Encoding.ASCII.GetBytes(p))), 0];
        Assert.True(DnsName.TryRead(m, 12, out DnsName name, out _, out _));
        string text = name.ToString();
        Assert.Equal(expected, text);
        Assert.Equal(text.Length, name.GetFormattedLength());
        Assert.DoesNotContain('/', text);
        Assert.DoesNotContain(':', text);
        Assert.True(name.EqualsAscii(text));

        Span<byte> utf8 = stackalloc byte[1024];
        Assert.True(name.TryFormatUtf8(utf8, out int n));
        Assert.Equal(text, System.Text.Encoding.ASCII.GetString(utf8.Slice(0, n)));
    }

    [Fact]
    public void Format_EscapesNonPrintables_AndDots()
    {
        byte[] m = [.. new byte[12], 4, (byte)'a', (byte)'.', 0x00, (byte)'\\', 3, (byte)'c', 0xFF, (byte)' ', 0];
        Assert.True(DnsName.TryRead(m, 12, out DnsName name, out _, out _));
        string text = name.ToString();
        Assert.Equal(@"a\.\000\\.c\255\032", text);
        Assert.Equal(text.Length, name.GetFormattedLength());

        Span<byte> utf8 = stackalloc byte[64];
        Assert.True(name.TryFormatUtf8(utf8, out int n));
        Assert.Equal(text, System.Text.Encoding.ASCII.GetString(utf8.Slice(0, n)));

        // The escaped text encodes back to the same octets.
        Assert.True(name.EqualsAscii(text));
        Span<char> tiny = stackalloc char[text.Length - 1];
        Assert.False(name.TryFormat(tiny, out _));
    }

    [Fact]
    public void Root_FormatsAsDot()
    {
        byte[] m = [.. new byte[12], 0];
        Assert.True(DnsName.TryRead(m, 12, out DnsName root, out _, out _));
        Assert.True(root.IsRoot);
        Assert.Equal(".", root.ToString());
        Assert.True(root.EqualsAscii("."));
        Assert.True(root.EqualsAscii(""));
        Assert.True(root.IsSubdomainOf("."));
        Assert.False(root.IsSubdomainOf("com"));
    }

    [Fact]
    public void Default_IsEmpty_AndHarmless()
    {
        DnsName d = default;
        Assert.True(d.IsEmpty);
        Assert.Equal(0, d.LabelCount);
        Assert.Equal(string.Empty, d.ToString());
        Assert.False(d.EqualsAscii("."));
        Assert.False(d.IsSubdomainOf("."));
        foreach (ReadOnlySpan<byte> unused in d)
        {
            Assert.Fail("no labels expected");
        }
    }

    [Theory]
    [InlineData("www.Example.COM", "www.example.com", true)]
    [InlineData("www.example.com", "www.example.com.", true)]
    [InlineData("www.example.com", "www.example.co", false)]
    [InlineData("www.example.com", "example.com", false)]
    [InlineData("www.example.com", "ww.wexample.com", false)]
    public void EqualsAscii_IsCaseInsensitive_OnWholeName(string inMessage, string text, bool expected)
    {
        byte[] m = [.. new byte[12], .. WireName(inMessage)];
        Assert.True(DnsName.TryRead(m, 12, out DnsName name, out _, out _));
        Assert.Equal(expected, name.EqualsAscii(text));
        Assert.Equal(expected, name.EqualsAscii(System.Text.Encoding.ASCII.GetBytes(text)));
    }

    [Theory]
    [InlineData("a.b.example.com", "example.com", true)]
    [InlineData("a.b.example.com", "EXAMPLE.com.", true)]
    [InlineData("example.com", "example.com", true)]
    [InlineData("badexample.com", "example.com", false)]
    [InlineData("example.com", "a.example.com", false)]
    [InlineData("example.com", "com", true)]
    [InlineData("example.com", ".", true)]
    [InlineData("example.com", "net", false)]
    [InlineData("example.com", "..", false)]
    public void IsSubdomainOf_MatchesWholeLabels(string inMessage, string suffix, bool expected)
    {
        byte[] m = [.. new byte[12], .. WireName(inMessage), .. WireName(suffix == ".." ? "x" : suffix)];
        Assert.True(DnsName.TryRead(m, 12, out DnsName name, out int n, out _));
        Assert.Equal(expected, name.IsSubdomainOf(suffix));
        Assert.Equal(expected, name.IsSubdomainOf(System.Text.Encoding.ASCII.GetBytes(suffix)));
        if (suffix != "..")
        {
            Assert.True(DnsName.TryRead(m, 12 + n, out DnsName other, out _, out _));
            Assert.Equal(expected, name.IsSubdomainOf(other));
        }
    }

    [Fact]
    public void Equals_AcrossMessages_AndCompression()
    {
        byte[] a = [.. new byte[12], .. WireName("WWW.example.com")];
        byte[] b = Rfc1035Figure();
        byte[] c = [.. new byte[12], .. WireName("example.com"), 3, (byte)'w', (byte)'w', (byte)'w', 0xC0, 12];
        Assert.True(DnsName.TryRead(a, 12, out DnsName na, out _, out _));
        Assert.True(DnsName.TryRead(c, 25, out DnsName nc, out _, out _));
        Assert.True(DnsName.TryRead(b, 40, out DnsName nb, out _, out _));
        Assert.True(na.Equals(nc));
        Assert.Equal(na.GetHashCodeIgnoreCase(), nc.GetHashCodeIgnoreCase());
        Assert.False(na.Equals(nb));
    }

    [Theory]
    [InlineData("a..b")]
    [InlineData(".a")]
    [InlineData("a\\")]
    [InlineData("a\\25")]
    [InlineData("a\\256")]
    [InlineData("caf\u00e9.example")]
    public void BadText_IsRefused(string text)
    {
        Span<byte> buf = stackalloc byte[300];
        Assert.False(DnsNameSource.FromText(text).TryEncode(buf, out _, out DnsError error));
        Assert.Equal(DnsError.BadNameText, error);
    }

    [Fact]
    public void Encoder_ReportsBufferTooSmall()
    {
        Span<byte> buf = stackalloc byte[5];
        Assert.False(DnsNameSource.FromText("example.com").TryEncode(buf, out _, out DnsError error));
        Assert.Equal(DnsError.BufferTooSmall, error);
    }
}
