using System.Text;

namespace DnsWarden.Export.Tests;

/// <summary>The spool on a real directory: order across runs, the bound, safe creation, and every kind of bad file.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class SpoolTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "dnsw-spool-test-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    private static byte[] Rows(int n) => Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, n).Select(i => $"{{\"n\":{i}}}\n")));

    private Spool Open(long max = 1 << 20)
    {
        Assert.True(Spool.TryOpen(_dir, max, out Spool? spool, out string? error), error);
        return spool!;
    }

    [Fact]
    public void Batches_ComeBackInOrder_AcrossARestart_AndAreGoneOnceRemoved()
    {
        Spool first = Open();
        Assert.True(first.TryAppend(ExportTable.LeakEvents, 2, Rows(2), out _));
        Assert.True(first.TryAppend(ExportTable.DnsQueries, 3, Rows(3), out _));

        Spool second = Open();
        Assert.Equal(2, second.PendingBatches);
        Assert.Equal(5, second.PendingRows);
        Assert.True(second.TryAppend(ExportTable.GuardDecisions, 1, Rows(1), out _));
        var seen = new List<(ExportTable, int)>();
        while (second.TryPeekOldest(out SpoolBatch? b, out string? problem))
        {
            Assert.Null(problem);
            seen.Add((b!.Table, b.Rows));
            Assert.Equal(Rows(b.Rows), b.Payload);
            second.Remove(b);
        }

        Assert.Equal([(ExportTable.LeakEvents, 2), (ExportTable.DnsQueries, 3), (ExportTable.GuardDecisions, 1)], seen);
        Assert.Equal(0, second.PendingBytes);
        Assert.Empty(Directory.GetFiles(_dir));
    }

    [Fact]
    public void AFullSpool_RefusesTheBatch_AndSaysSo()
    {
        Spool spool = Open(max: 200);
        Assert.True(spool.TryAppend(ExportTable.LeakEvents, 10, Rows(10), out _));
        Assert.False(spool.TryAppend(ExportTable.LeakEvents, 10, Rows(10), out string? error));
        Assert.Contains("is full", error, StringComparison.Ordinal);
        Assert.Equal(1, spool.PendingBatches);
    }

    [Fact]
    public void Files_AreMode0600_InADirectoryOf0700()
    {
        Spool spool = Open();
        Assert.True(spool.TryAppend(ExportTable.LeakEvents, 1, Rows(1), out _));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(_dir));
        Assert.All(Directory.GetFiles(_dir), f => Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(f)));
    }

    [Fact]
    public void ASymlinkedDirectory_OrOneOthersMayWrite_IsRefused()
    {
        string target = _dir + "-target"; // mode 511 below is 0777
        Directory.CreateDirectory(target);
        try
        {
            Directory.CreateSymbolicLink(_dir, target);
            Assert.False(Spool.TryOpen(_dir, 1 << 20, out _, out string? error));
            Assert.Contains("symbolic link", error, StringComparison.Ordinal);
            Directory.Delete(_dir);

            Directory.CreateDirectory(_dir);
            File.SetUnixFileMode(_dir, (UnixFileMode)511);
            Assert.False(Spool.TryOpen(_dir, 1 << 20, out _, out error));
            Assert.Contains("writable by group or others", error, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(target, recursive: true);
        }
    }

    [Fact]
    public void ASymlinkWhereTheNextBatchGoes_IsNeverWrittenThrough()
    {
        Spool spool = Open();
        string victim = Path.Combine(_dir + "-victim");
        File.WriteAllText(victim, "untouched");
        try
        {
            // The next batch is 0000000000000000; its temporary name is planted as a link to a file elsewhere.
            File.CreateSymbolicLink(Path.Combine(_dir, "0000000000000000" + Spool.TempExtension), victim);
            Assert.False(spool.TryAppend(ExportTable.LeakEvents, 1, Rows(1), out string? error));
            Assert.Contains("cannot write a batch", error, StringComparison.Ordinal);
            Assert.Equal("untouched", File.ReadAllText(victim));
        }
        finally
        {
            File.Delete(victim);
        }
    }

    public static TheoryData<string, byte[], string> BadFiles()
    {
        byte[] good = Good(3);
        return new TheoryData<string, byte[], string>
        {
            { "empty", [], "empty file" },
            { "header cut", good[..20], "at byte 20: the header line ends without a newline (truncated)" },
            { "rows cut", good[..^5], "(truncated)" },
            { "bytes after", [.. good, .. "x"u8.ToArray()], "1 bytes after the" },
            { "garbage", Encoding.ASCII.GetBytes(new string('z', 300)), "no newline in the first 256 bytes" },
            { "wrong magic", Encoding.ASCII.GetBytes("hello 1 leak_events 1 2 00\n{}"), "header: expected 'dnsw-spool 1 TABLE ROWS BYTES CHECKSUM', got 'hello 1 leak_events 1 2 00'" },
            { "version", Encoding.ASCII.GetBytes("dnsw-spool 9 leak_events 1 2 00\n{}"), "header: version '9'" },
            { "table", Encoding.ASCII.GetBytes("dnsw-spool 1 users 1 2 00\n{}"), "header: unknown table 'users'" },
            { "rows", Encoding.ASCII.GetBytes("dnsw-spool 1 leak_events -1 2 00\n{}"), "header: row count '-1' is not a positive number" },
            { "flipped byte", Flip(good), "do not match their checksum" },
        };
    }

    private static byte[] Good(int rows)
    {
        byte[] payload = Rows(rows);
        return [.. SpoolFileFormat.Header(ExportTable.LeakEvents, rows, payload), .. payload];
    }

    private static byte[] Flip(byte[] file)
    {
        byte[] copy = [.. file];
        copy[^3] ^= 0x20;
        return copy;
    }

    [Theory]
    [MemberData(nameof(BadFiles))]
    public void ABadFile_IsSetAside_CountedAndNamed_AndTheNextBatchStillComes(string label, byte[] content, string expected)
    {
        Directory.CreateDirectory(_dir);
        File.SetUnixFileMode(_dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        File.WriteAllBytes(Path.Combine(_dir, "0000000000000001.batch"), content);
        File.WriteAllBytes(Path.Combine(_dir, "0000000000000002.batch"), Good(2));
        Spool spool = Open();

        Assert.True(spool.TryPeekOldest(out SpoolBatch? batch, out string? problem), label);
        Assert.NotNull(problem);
        Assert.Contains("0000000000000001.batch", problem, StringComparison.Ordinal);
        Assert.Contains(expected, problem, StringComparison.Ordinal);
        Assert.Equal(1, spool.Corrupt);
        Assert.Equal(2, batch!.Rows);
        Assert.True(File.Exists(Path.Combine(_dir, "0000000000000001.corrupt")));
    }

    [Fact]
    public void EveryProperPrefixOfAGoodFile_IsRefusedWithAReason()
    {
        byte[] good = Good(4);
        for (int cut = 0; cut < good.Length; cut++)
        {
            Assert.False(SpoolFileFormat.TryParse(good.AsSpan(0, cut), out _, out _, out _, out string? error), $"cut at {cut}");
            Assert.False(string.IsNullOrEmpty(error));
        }

        Assert.True(SpoolFileFormat.TryParse(good, out ExportTable table, out int rows, out ReadOnlySpan<byte> payload, out _));
        Assert.Equal((ExportTable.LeakEvents, 4), (table, rows));
        Assert.Equal(Rows(4), payload.ToArray());
    }

    [Fact]
    public void ASymlinkedBatch_IsNotFollowed()
    {
        Open();
        string outside = _dir + "-outside";
        File.WriteAllBytes(outside, Good(1));
        try
        {
            File.CreateSymbolicLink(Path.Combine(_dir, "0000000000000005.batch"), outside);
            Spool spool = Open();
            Assert.False(spool.TryPeekOldest(out _, out string? problem));
            Assert.Contains("is a symbolic link (not followed)", problem, StringComparison.Ordinal);
            Assert.True(File.Exists(outside));
        }
        finally
        {
            File.Delete(outside);
        }
    }

    [Fact]
    public void AHalfWrittenTemporaryFile_FromAKilledRun_IsDropped()
    {
        Spool first = Open();
        Assert.True(first.TryAppend(ExportTable.LeakEvents, 1, Rows(1), out _));
        File.WriteAllText(Path.Combine(_dir, "0000000000000001.tmp"), "dnsw-spool 1 leak_eve");
        Spool second = Open();
        Assert.Equal(1, second.PendingBatches);
        Assert.False(File.Exists(Path.Combine(_dir, "0000000000000001.tmp")));
    }
}
