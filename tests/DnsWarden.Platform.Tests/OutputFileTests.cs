namespace DnsWarden.Platform.Tests;

/// <summary>Output files are new files: never written through a link planted at their path.</summary>
public sealed class OutputFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("dnsw-output-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void SymlinkAtThePath_IsRefused_TheLinkAndItsTargetUntouched()
    {
        string target = Path.Combine(_dir, "precious");
        File.WriteAllText(target, "keep me");
        string output = Path.Combine(_dir, "evidence.pcapng");
        File.CreateSymbolicLink(output, target);

        IOException e = Assert.Throws<IOException>(() => OutputFile.Create(output));
        Assert.Contains("symbolic link", e.Message, StringComparison.Ordinal);
        Assert.Equal("keep me", File.ReadAllText(target));
        Assert.Equal(target, new FileInfo(output).LinkTarget);
    }

    [Fact]
    public void DanglingSymlink_IsRefused_NothingCreatedWhereItPoints()
    {
        string nowhere = Path.Combine(_dir, "created-through-link");
        string output = Path.Combine(_dir, "report.html");
        File.CreateSymbolicLink(output, nowhere);

        Assert.Throws<IOException>(() => OutputFile.Create(output));
        Assert.False(File.Exists(nowhere));
    }

    [Theory]
    [InlineData("/dev/null")]
    [InlineData("/dev/stdout")]
    public void DevicesAndTheirLinks_AreRefused_AndLeftInPlace(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Skip("Linux device paths");
        }

        Assert.Throws<IOException>(() => OutputFile.Create(path));
        Assert.True(File.Exists(path) || new FileInfo(path).LinkTarget is not null);
    }

    [Fact]
    public void NamedPipe_IsRefused_NothingWrittenToItsReader()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Skip("mkfifo");
        }

        string fifo = Path.Combine(_dir, "report.html");
        using (var mk = System.Diagnostics.Process.Start("mkfifo", [fifo]))
        {
            mk.WaitForExit();
            Assert.Equal(0, mk.ExitCode);
        }

        IOException e = Assert.Throws<IOException>(() => OutputFile.Create(fifo));
        Assert.Contains("not a regular file", e.Message, StringComparison.Ordinal);
        Assert.True(File.Exists(fifo));
    }

    [Fact]
    public void ExistingRegularFile_IsReplaced()
    {
        string output = Path.Combine(_dir, "report.html");
        File.WriteAllText(output, "an older report, longer than the new one");
        using (FileStream s = OutputFile.Create(output))
        {
            s.Write("new"u8);
        }

        Assert.Equal("new", File.ReadAllText(output));
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
