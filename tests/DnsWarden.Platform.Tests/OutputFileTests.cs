using System.Runtime.Versioning;
using DnsWarden.Platform.Users;

namespace DnsWarden.Platform.Tests;

/// <summary>Files written for the user (evidence captures, reports, logs) are never written through what is planted at their path.</summary>
[SupportedOSPlatform("linux")]
public sealed class OutputFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("dnsw-output-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static FileStream Open(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Skip("Linux output files");
        }

        return OutputFile.Open(path, owner: null, append: false);
    }

    [Fact]
    public void SymlinkAtThePath_IsRefused_TheLinkAndItsTargetUntouched()
    {
        string target = Path.Combine(_dir, "precious");
        File.WriteAllText(target, "keep me");
        string output = Path.Combine(_dir, "evidence.pcapng");
        File.CreateSymbolicLink(output, target);

        IOException e = Assert.Throws<IOException>(() => Open(output));
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

        Assert.Throws<IOException>(() => Open(output));
        Assert.False(File.Exists(nowhere));
    }

    [Theory]
    [InlineData("/dev/null")]
    [InlineData("/dev/stdout")]
    public void DevicesAndTheirLinks_AreRefused_AndLeftInPlace(string path)
    {
        Assert.Throws<IOException>(() => Open(path));
        Assert.True(File.Exists(path) || new FileInfo(path).LinkTarget is not null);
    }

    [Fact]
    public void NamedPipe_IsRefused_WithoutBlocking()
    {
        string fifo = Path.Combine(_dir, "report.html");
        using (var mk = System.Diagnostics.Process.Start("mkfifo", [fifo]))
        {
            mk.WaitForExit();
            Assert.Equal(0, mk.ExitCode);
        }

        Assert.Throws<IOException>(() => Open(fifo));
        Assert.True(File.Exists(fifo));
    }

    [Fact]
    public void Directory_IsRefused()
    {
        Assert.ThrowsAny<IOException>(() => Open(_dir));
        Assert.True(Directory.Exists(_dir));
    }

    [Fact]
    public void ExistingRegularFile_IsTruncatedAndWritten()
    {
        string output = Path.Combine(_dir, "report.html");
        File.WriteAllText(output, "an older report, longer than the new one");
        using (FileStream s = Open(output))
        {
            s.Write("new"u8);
        }

        Assert.Equal("new", File.ReadAllText(output));
    }
}
