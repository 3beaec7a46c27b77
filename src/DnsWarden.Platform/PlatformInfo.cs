namespace DnsWarden.Platform;

/// <summary>What this build of the platform layer can do on the running OS.</summary>
public static class PlatformInfo
{
    public static string Name => OperatingSystem.IsLinux() ? "linux" : OperatingSystem.IsWindows() ? "windows" : "other";
}
