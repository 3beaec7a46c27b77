using System.Text;
using DnsWarden.Wire.Dns;

namespace DnsWarden.Wire.Tests.Dns;

/// <summary>
/// The vector/in-place paths of <see cref="DnsName.TryFormat"/> and <see cref="DnsName.EqualsAscii(ReadOnlySpan{char})"/>
/// must agree with a plain reference: RFC 1035 §5.1 escaping and encoding the text first.
/// </summary>
public sealed class DnsNameFastPathTests
{
    private static readonly byte[] s_alphabet = "aZz09-_*.\\ \u007f"u8.ToArray().Concat(new byte[] { 0x00, 0x1F, 0x21, 0x7E, 0x80, 0xFF }).ToArray();

    /// <summary>Builds a message: optional suffix name at 12, then the name itself, maybe compressed onto the suffix.</summary>
    private static (byte[] Message, int Offset, List<byte[]> Labels) RandomName(Random rng)
    {
        var labels = new List<byte[]>();
        int budget = 254;
        int count = rng.Next(1, 8);
        for (int i = 0; i < count; i++)
        {
            int max = Math.Min(rng.Next(4) == 0 ? 63 : 20, budget - 2);
            if (max < 1)
            {
                break;
            }

            var label = new byte[rng.Next(1, max + 1)];
            for (int j = 0; j < label.Length; j++)
            {
                label[j] = rng.Next(3) == 0 ? s_alphabet[rng.Next(s_alphabet.Length)] : (byte)rng.Next('a', 'z' + 1);
            }

            labels.Add(label);
            budget -= 1 + label.Length;
        }

        int split = rng.Next(labels.Count + 1);
        var m = new List<byte>(new byte[12]);
        int suffixAt = m.Count;
        foreach (byte[] l in labels.Skip(split))
        {
            m.Add((byte)l.Length);
            m.AddRange(l);
        }

        m.Add(0);
        int offset = m.Count;
        foreach (byte[] l in labels.Take(split))
        {
            m.Add((byte)l.Length);
            m.AddRange(l);
        }

        if (split < labels.Count)
        {
            m.Add(0xC0);
            m.Add((byte)suffixAt);
        }
        else
        {
            m.Add(0);
        }

        // Random slack after the name so loads near the end of the message take the scalar path.
        m.AddRange(new byte[rng.Next(0, 20)]);
        return (m.ToArray(), offset, labels);
    }

    private static string Reference(List<byte[]> labels)
    {
        if (labels.Count == 0)
        {
            return ".";
        }

        var sb = new StringBuilder();
        foreach (byte[] label in labels)
        {
            if (sb.Length > 0)
            {
                sb.Append('.');
            }

            foreach (byte b in label)
            {
                if (b is (byte)'.' or (byte)'\\')
                {
                    sb.Append('\\').Append((char)b);
                }
                else if (!(char.IsAsciiLetterOrDigit((char)b) || b is (byte)'-' or (byte)'_' or (byte)'*'))
                {
                    sb.Append('\\').Append(b.ToString("D3", System.Globalization.CultureInfo.InvariantCulture));
                }
                else
                {
                    sb.Append((char)b);
                }
            }
        }

        return sb.ToString();
    }

    [Fact]
    public void TryFormat_AgreesWithReference_ForRandomNamesAndEveryDestinationSize()
    {
        var rng = new Random(4343);
        for (int iteration = 0; iteration < 1500; iteration++)
        {
            (byte[] message, int offset, List<byte[]> labels) = RandomName(rng);
            Assert.True(DnsName.TryRead(message, offset, out DnsName name, out _, out DnsError error), error.ToString());
            string expected = Reference(labels);
            Assert.Equal(expected.Length, name.GetFormattedLength());
            foreach (int size in new[] { 0, expected.Length - 1, expected.Length, expected.Length + 1, expected.Length + 15, expected.Length + 40 })
            {
                if (size < 0)
                {
                    continue;
                }

                var chars = new char[size];
                bool ok = name.TryFormat(chars, out int written);
                Assert.Equal(size >= expected.Length, ok);
                if (ok)
                {
                    Assert.Equal(expected, new string(chars, 0, written));
                }

                var bytes = new byte[size];
                ok = name.TryFormatUtf8(bytes, out written);
                Assert.Equal(size >= expected.Length, ok);
                if (ok)
                {
                    Assert.Equal(expected, Encoding.ASCII.GetString(bytes, 0, written));
                }
            }
        }
    }

    [Theory]
    [InlineData("www.example.com")]
    [InlineData("WWW.Example.COM.")]
    [InlineData("www.example.com..")]
    [InlineData("www..example.com")]
    [InlineData(".www.example.com")]
    [InlineData("www.example")]
    [InlineData("www.example.co")]
    [InlineData("www.example.comm")]
    [InlineData("www.example\\.com")]
    [InlineData("www.ex\\097mple.com")]
    [InlineData("ww\u00e9.example.com")]
    [InlineData("www.example.co@")]
    [InlineData("www.example.co[")]
    [InlineData(".")]
    [InlineData("")]
    public void EqualsAscii_AgreesWithEncodingTheTextFirst(string text)
    {
        byte[] m = [.. new byte[12], .. DnsTestUtil.WireName("www.example.com")];
        Assert.True(DnsName.TryRead(m, 12, out DnsName name, out _, out _));
        Assert.Equal(ReferenceEquals(name, text), name.EqualsAscii(text));
        Assert.Equal(ReferenceEquals(name, text), name.EqualsAscii(Encoding.Latin1.GetBytes(text)));
    }

    [Fact]
    public void EqualsAscii_AgreesWithEncodingTheTextFirst_ForRandomNamesAndMutatedTexts()
    {
        var rng = new Random(1035);
        for (int iteration = 0; iteration < 1500; iteration++)
        {
            (byte[] message, int offset, List<byte[]> labels) = RandomName(rng);
            Assert.True(DnsName.TryRead(message, offset, out DnsName name, out _, out _));
            char[] text = Reference(labels).ToCharArray();
            if (rng.Next(2) == 0 && text.Length > 0)
            {
                int at = rng.Next(text.Length);
                text[at] = rng.Next(4) switch
                {
                    0 => char.ToUpperInvariant(text[at]),
                    1 => (char)(text[at] ^ 0x20),
                    2 => '.',
                    _ => (char)rng.Next(0x20, 0x100),
                };
            }

            string s = new(text);
            Assert.Equal(ReferenceEquals(name, s), name.EqualsAscii(s));
        }
    }

    /// <summary>Encode the text, write the name uncompressed, compare octets with only A-Z folded (RFC 4343 §3).</summary>
    private static bool ReferenceEquals(DnsName name, string text)
    {
        var wire = new byte[DnsName.MaxWireLength];
        if (!DnsNameEncoder.TryEncode(text.AsSpan(), wire, out int n, out _, out _))
        {
            return false;
        }

        var mine = new byte[DnsName.MaxWireLength];
        Assert.True(name.TryWriteUncompressed(mine, out int m));
        return n == m && wire.AsSpan(0, n).SequenceEqual(mine.AsSpan(0, m), new AsciiFold());
    }

    private sealed class AsciiFold : IEqualityComparer<byte>
    {
        public bool Equals(byte x, byte y) => DnsName.ToLower(x) == DnsName.ToLower(y);

        public int GetHashCode(byte obj) => DnsName.ToLower(obj);
    }
}
