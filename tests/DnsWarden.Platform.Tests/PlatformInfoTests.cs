namespace DnsWarden.Platform.Tests;

public sealed class PlatformInfoTests
{
    [Fact]
    public void NamesTheRunningOs() => Assert.Equal(OperatingSystem.IsLinux() ? "linux" : OperatingSystem.IsWindows() ? "windows" : "other", PlatformInfo.Name);
}
