namespace DnsWarden.Platform.Tests;

/// <summary>Output files are new files: never written through a link planted at their path.</summary>
public sealed class OutputFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("dnsw-output-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void SymlinkAtThePath_IsReplaced_ItsTargetUntouched()
    {
        string target = Path.Combine(_dir, "precious");
        File.WriteAllText(target, "keep me");
        string output = Path.Combine(_dir, "evidence.pcapng");
        File.CreateSymbolicLink(output, target);

        using (FileStream s = OutputFile.Create(output))
        {
            s.Write("evidence"u8);
        }

        Assert.Equal("keep me", File.ReadAllText(target));
        Assert.Null(new FileInfo(output).LinkTarget);
        Assert.Equal("evidence", File.ReadAllText(output));
    }

    [Fact]
    public void DanglingSymlink_IsReplaced_NothingCreatedWhereItPointed()
    {
        string nowhere = Path.Combine(_dir, "created-through-link");
        string output = Path.Combine(_dir, "report.html");
        File.CreateSymbolicLink(output, nowhere);

        using (OutputFile.Create(output))
        {
        }

        Assert.False(File.Exists(nowhere));
        Assert.True(File.Exists(output));
    }

    [Fact]
    public void HardLinkAtThePath_LosesThisNameOnly()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Skip("hard links are made with ln here");
        }

        string target = Path.Combine(_dir, "precious");
        File.WriteAllText(target, "keep me");
        string output = Path.Combine(_dir, "evidence.pcapng");
        using (var ln = System.Diagnostics.Process.Start("ln", [target, output]))
        {
            ln.WaitForExit();
            Assert.Equal(0, ln.ExitCode);
        }

        using (FileStream s = OutputFile.Create(output))
        {
            s.Write("evidence"u8);
        }

        Assert.Equal("keep me", File.ReadAllText(target));
        Assert.Equal("evidence", File.ReadAllText(output));
    }

    [Fact]
    public void NewFile_IsPrivateToItsOwner()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Skip("Unix permissions");
            return;
        }

        string output = Path.Combine(_dir, "evidence.pcapng");
        File.WriteAllText(output, "old, world-readable");
        File.SetUnixFileMode(output, (UnixFileMode)0b110_100_100);
        using (OutputFile.Create(output))
        {
        }

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(output));
        Assert.Equal(0, new FileInfo(output).Length);
    }

    [Fact]
    public void Directory_IsRefusedWithItsName()
    {
        IOException e = Assert.Throws<IOException>(() => OutputFile.Create(_dir));
        Assert.Contains(_dir, e.Message, StringComparison.Ordinal);
        Assert.True(Directory.Exists(_dir));
    }
}
