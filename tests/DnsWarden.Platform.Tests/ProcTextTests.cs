using System.Text;

namespace DnsWarden.Platform.Tests;

public sealed class ProcTextTests
{
    [Theory]
    [InlineData("socket:[12345]", true, 12345UL)]
    [InlineData("socket:[0]", true, 0UL)]
    [InlineData("socket:[18446744073709551615]", true, ulong.MaxValue)]
    [InlineData("socket:[18446744073709551616]", false, 0UL)]
    [InlineData("socket:[]", false, 0UL)]
    [InlineData("socket:[12a]", false, 0UL)]
    [InlineData("socket:[123", false, 0UL)]
    [InlineData("pipe:[12345]", false, 0UL)]
    [InlineData("/dev/null", false, 0UL)]
    [InlineData("", false, 0UL)]
    public void SocketLink(string link, bool ok, ulong inode)
    {
        Assert.Equal(ok, ProcText.TryParseSocketLink(Encoding.ASCII.GetBytes(link), out ulong parsed));
        Assert.Equal(inode, parsed);
    }

    [Fact]
    public void Status_NamePPidRealUid()
    {
        const string Status = "Name:\tdig\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t4242\nPid:\t4242\nPPid:\t4000\nUid:\t1000\t1001\t1002\t1003\nGid:\t100\t100\t100\t100\n";
        Assert.True(ProcText.TryParseStatus(Status, out string name, out int ppid, out int? uid));
        Assert.Equal("dig", name);
        Assert.Equal(4000, ppid);
        Assert.Equal(1000, uid);
    }

    [Theory]
    [InlineData("")]
    [InlineData("Name:\tx\nUid:\t0\t0\t0\t0\n")]
    [InlineData("PPid:\tabc\n")]
    public void Status_WithoutPPid_Fails(string status) => Assert.False(ProcText.TryParseStatus(status, out _, out _, out _));

    [Fact]
    public void CommandLine_NulSeparated()
    {
        Assert.Equal("dig @127.0.0.1 example.com", ProcText.FormatCommandLine("dig\0@127.0.0.1\0example.com\0"u8));
        Assert.Null(ProcText.FormatCommandLine(""u8));
        Assert.Null(ProcText.FormatCommandLine("\0\0"u8));
    }
}
