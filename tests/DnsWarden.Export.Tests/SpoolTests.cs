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

    private (Spool Run, FileStream Lock) OpenRun()
    {
        Assert.True(Spool.TryOpenForRun(_dir, 1 << 20, out Spool? run, out FileStream? runLock, out string? error), error);
        return (run!, runLock!);
    }

    private static List<(ExportTable, int)> Drain(Spool spool)
    {
        var seen = new List<(ExportTable, int)>();
        while (spool.TryPeekOldest(out SpoolBatch? b, out string? problem))
        {
            Assert.Null(problem);
            seen.Add((b!.Table, b.Rows));
            spool.Remove(b);
        }

        return seen;
    }

    [Fact]
    public void ARunSpool_TakesTheSharedBatches_AndWhatItLeavesComesBackAfterItsLockIsFree()
    {
        Spool shared = Open();
        Assert.True(shared.TryAppend(ExportTable.LeakEvents, 2, Rows(2), out _));

        (Spool run, FileStream runLock) = OpenRun();
        string runDir = run.Directory;
        Assert.StartsWith(Path.Combine(_dir, Spool.RunDirectoryPrefix), runDir, StringComparison.Ordinal);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(runDir));
        Assert.Equal(1, run.PendingBatches);
        Assert.Empty(Directory.GetFiles(_dir, "*.batch")); // the shared batch moved into the run's directory
        Assert.True(File.Exists(runDir + Spool.RunLockExtension)); // its lock lies beside it, in the shared directory
        Assert.True(run.TryAppend(ExportTable.DnsQueries, 3, Rows(3), out _));

        // While the run holds its lock, another run's open leaves its directory alone.
        Assert.Equal(0, Open().PendingBatches);
        Assert.True(Directory.Exists(runDir));

        runLock.Dispose();
        Spool next = Open();
        Assert.False(Directory.Exists(runDir));
        Assert.Equal([(ExportTable.LeakEvents, 2), (ExportTable.DnsQueries, 3)], Drain(next));
    }

    [Fact]
    public void ARunSpool_ReachedThroughADescriptorPath_WritesAndNamesItsRealDirectory()
    {
        (Spool run, FileStream runLock) = OpenRun();
        using (runLock)
        {
            string via = _dir + "-via";
            File.CreateSymbolicLink(via, run.Directory);
            try
            {
                run.ReachThrough(via);
                Assert.True(run.TryAppend(ExportTable.LeakEvents, 1, Rows(1), out _));
                Assert.Single(Directory.GetFiles(run.Directory, "*.batch"));
                Assert.Equal([(ExportTable.LeakEvents, 1)], Drain(run));
                Assert.Empty(Directory.GetFiles(run.Directory, "*.batch"));
            }
            finally
            {
                File.Delete(via);
            }
        }
    }

    [Fact]
    public void WhatAnEndedRunLeft_IsTakenBackWithoutFollowingLinksOrOpeningFifos()
    {
        (Spool run, FileStream runLock) = OpenRun();
        Assert.True(run.TryAppend(ExportTable.LeakEvents, 1, Rows(1), out _));
        string outside = _dir + "-secret";
        File.WriteAllText(outside, "not the spool's");
        try
        {
            // A run that gave up root may have been subverted: it plants a link and a FIFO where batches go.
            File.CreateSymbolicLink(Path.Combine(run.Directory, "0000000000000007.batch"), outside);
            using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", Path.Combine(run.Directory, "0000000000000008.batch")))
            {
                mkfifo.WaitForExit();
                Assert.Equal(0, mkfifo.ExitCode);
            }

            runLock.Dispose();

            Spool next = Open();
            Assert.Equal([(ExportTable.LeakEvents, 1)], Drain(next));
            Assert.Equal(0, next.Corrupt);
            Assert.Empty(Directory.GetFileSystemEntries(_dir));
            Assert.Equal("not the spool's", File.ReadAllText(outside));
        }
        finally
        {
            File.Delete(outside);
        }
    }

    [Fact]
    public void ARunDirectoryWhoseLockIsHeld_IsLeftAlone_AndOneWithoutItsLock_IsTakenBack()
    {
        Open();
        string locked = Path.Combine(_dir, Spool.RunDirectoryPrefix + "0123456789abcdef");
        string unlocked = Path.Combine(_dir, Spool.RunDirectoryPrefix + "fedcba9876543210");
        Directory.CreateDirectory(locked);
        Directory.CreateDirectory(unlocked);
        File.WriteAllBytes(Path.Combine(locked, "0000000000000000.batch"), Good(1));
        File.WriteAllBytes(Path.Combine(unlocked, "0000000000000000.batch"), Good(2));
        using (new FileStream(locked + Spool.RunLockExtension, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None))
        {
            Spool next = Open();
            Assert.True(Directory.Exists(locked));
            Assert.False(Directory.Exists(unlocked));
            Assert.Equal([(ExportTable.LeakEvents, 2)], Drain(next));
        }

        Assert.Equal([(ExportTable.LeakEvents, 1)], Drain(Open()));
        Assert.Empty(Directory.GetFileSystemEntries(_dir));
    }

    [Fact]
    public void ADirectoryPlantedInARunDirectory_IsNotWalked_ButTheBatchesAreTakenBack()
    {
        (Spool run, FileStream runLock) = OpenRun();
        Assert.True(run.TryAppend(ExportTable.LeakEvents, 1, Rows(1), out _));
        string outside = _dir + "-tree";
        Directory.CreateDirectory(outside);
        File.WriteAllText(Path.Combine(outside, "keep"), "not the spool's");
        try
        {
            Directory.CreateDirectory(Path.Combine(run.Directory, "sub"));
            File.CreateSymbolicLink(Path.Combine(run.Directory, "tree"), outside);
            runLock.Dispose();

            Spool next = Open();
            Assert.Equal([(ExportTable.LeakEvents, 1)], Drain(next));
            Assert.True(File.Exists(Path.Combine(outside, "keep")));
            Assert.True(Directory.Exists(Path.Combine(run.Directory, "sub"))); // left in place, harmlessly
        }
        finally
        {
            Directory.Delete(outside, recursive: true);
        }
    }
}
