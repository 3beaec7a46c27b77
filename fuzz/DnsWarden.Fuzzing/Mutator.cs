namespace DnsWarden.Fuzzing;

/// <summary>
/// Blind mutations in the AFL/libFuzzer style (no coverage feedback): random inputs, and seeds changed by a
/// few bit flips, byte sets, interesting values, insertions, deletions, truncations, duplications and splices.
/// Deterministic for a given seed.
/// </summary>
internal sealed class Mutator
{
    public const int MaxInputLength = 64 * 1024;

    // Values that sit on parser boundaries: DNS pointers (0xC0), label kinds (0x40/0x80), length bytes, signs.
    private static readonly byte[] s_interesting8 = [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x10, 0x16, 0x20, 0x3F, 0x40, 0x41, 0x7F, 0x80, 0x81, 0xC0, 0xC1, 0xFE, 0xFF];

    private static readonly ushort[] s_interesting16 = [0x0000, 0x0001, 0x000C, 0x0100, 0x03FF, 0x3FFF, 0x4000, 0x7FFF, 0x8000, 0xC000, 0xC00C, 0xFFFE, 0xFFFF, 0x0800, 0x86DD, 0x8100, 0x0035, 0x01BB, 0x0355];

    private readonly Random _random;
    private readonly IReadOnlyList<byte[]> _corpus;

    public Mutator(int seed, IReadOnlyList<byte[]> corpus)
    {
        _random = new Random(seed);
        _corpus = corpus;
    }

    public byte[] Next()
    {
        int roll = _random.Next(100);
        if (roll < 8 || _corpus.Count == 0)
        {
            byte[] junk = new byte[_random.Next(roll < 4 ? 32 : 1024)];
            _random.NextBytes(junk);
            return junk;
        }

        var data = new List<byte>(_corpus[_random.Next(_corpus.Count)]);
        int mutations = 1 + (int)Math.Min(7, -Math.Log2(_random.NextDouble() + 1e-9));
        for (int i = 0; i < mutations; i++)
        {
            Mutate(data);
        }

        if (data.Count > MaxInputLength)
        {
            data.RemoveRange(MaxInputLength, data.Count - MaxInputLength);
        }

        return [.. data];
    }

    private void Mutate(List<byte> data)
    {
        int pos = data.Count == 0 ? 0 : _random.Next(data.Count);
        switch (_random.Next(12))
        {
            case 0 when data.Count > 0:
                data[pos] ^= (byte)(1 << _random.Next(8));
                break;
            case 1 when data.Count > 0:
                data[pos] = (byte)_random.Next(256);
                break;
            case 2 when data.Count > 0:
                data[pos] = s_interesting8[_random.Next(s_interesting8.Length)];
                break;
            case 3 when data.Count > 1:
                pos = Math.Min(pos, data.Count - 2);
                ushort v = s_interesting16[_random.Next(s_interesting16.Length)];
                data[pos] = (byte)(v >> 8);
                data[pos + 1] = (byte)v;
                break;
            case 4 when data.Count > 0:
                data[pos] = (byte)(data[pos] + _random.Next(-8, 9));
                break;
            case 5:
                // Insert a run: random bytes or one interesting value repeated.
                int count = 1 + _random.Next(_random.Next(2) == 0 ? 4 : 64);
                byte fill = s_interesting8[_random.Next(s_interesting8.Length)];
                bool random = _random.Next(2) == 0;
                var run = new byte[count];
                for (int i = 0; i < count; i++)
                {
                    run[i] = random ? (byte)_random.Next(256) : fill;
                }

                data.InsertRange(pos, run);
                break;
            case 6 when data.Count > 0:
                data.RemoveRange(pos, 1 + _random.Next(Math.Min(data.Count - pos, 32)));
                break;
            case 7 when data.Count > 0:
                data.RemoveRange(pos, data.Count - pos);
                break;
            case 8 when data.Count > 1:
                // Duplicate a chunk somewhere else (repeated records, coalesced packets).
                int start = _random.Next(data.Count);
                int length = 1 + _random.Next(Math.Min(data.Count - start, 256));
                data.InsertRange(_random.Next(data.Count + 1), data.GetRange(start, length));
                break;
            case 9 when _corpus.Count > 0:
                // Splice: our head, another seed's tail.
                byte[] other = _corpus[_random.Next(_corpus.Count)];
                int cut = other.Length == 0 ? 0 : _random.Next(other.Length);
                data.RemoveRange(pos, data.Count - pos);
                data.AddRange(other.AsSpan(cut).ToArray());
                break;
            case 10 when data.Count > 1:
                // Overwrite with bytes copied from elsewhere in the input.
                int from = _random.Next(data.Count);
                int n = 1 + _random.Next(Math.Min(Math.Min(data.Count - from, data.Count - pos), 16));
                List<byte> chunk = data.GetRange(from, n);
                for (int i = 0; i < n; i++)
                {
                    data[pos + i] = chunk[i];
                }

                break;
            case 11 when data.Count > 0:
                // A length-looking byte set to the bytes that follow, give or take one.
                data[pos] = (byte)Math.Clamp(data.Count - pos - 1 + _random.Next(-1, 2), 0, 255);
                break;
            default:
                if (data.Count > 0)
                {
                    data[pos] = (byte)~data[pos];
                }

                break;
        }
    }
}
