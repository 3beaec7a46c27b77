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

    // proc(5) mountinfo of a hybrid host (v1 controllers beside the unified tree) and of a unified one.
    [Theory]
    [InlineData("31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n", "/sys/fs/cgroup/unified")]
    [InlineData("35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n", "/sys/fs/cgroup")]
    [InlineData("41 31 0:38 / /mnt/cg\\040two rw - cgroup2 none rw\n", "/mnt/cg two")]
    [InlineData("32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n", null)]
    [InlineData("", null)]
    [InlineData("garbage - cgroup2", null)]
    [InlineData("1 2 - cgroup2 x\n", null)]
    public void FindCgroup2Mount(string mountinfo, string? expected) => Assert.Equal(expected, ProcText.FindCgroup2Mount(mountinfo));

    [Fact]
    public void CgroupV2Path_IsTheZeroLine_OfAHybridFile()
    {
        Assert.Equal("/user.slice/session-2.scope", ProcText.ParseCgroupV2Path("12:pids:/user.slice\n1:name=systemd:/user.slice/session-2.scope\n0::/user.slice/session-2.scope\n"));
        Assert.Equal("/", ProcText.ParseCgroupV2Path("0::/\n"));
        Assert.Null(ProcText.ParseCgroupV2Path("1:name=systemd:/x\n"));
        Assert.Null(ProcText.ParseCgroupV2Path("0::"));
    }

    [Fact]
    public void Passwd_NamesByUid_FirstLineWins_BadLinesSkipped()
    {
        Dictionary<int, string> names = ProcText.ParsePasswd("root:x:0:0:root:/root:/bin/bash\n#comment:x:5:5\nbroken\nalice:x:1000:1000::/home/alice:/bin/sh\nshadow:x:1000:9::/:/bin/false\nnouid:x::1\n");
        Assert.Equal(new Dictionary<int, string> { [0] = "root", [1000] = "alice" }, names);
    }

    [Fact]
    public void StatusGid_IsTheRealGid()
    {
        Assert.Equal(1001, ProcText.ParseStatusGid("Name:\tdig\nUid:\t1000\t1000\t1000\t1000\nGid:\t1001\t0\t0\t0\n"));
        Assert.Null(ProcText.ParseStatusGid("Name:\tdig\n"));
        Assert.Null(ProcText.ParseStatusGid("Gid:\tx\n"));
    }
}
