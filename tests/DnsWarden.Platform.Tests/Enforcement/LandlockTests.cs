using System.Runtime.Versioning;
using DnsWarden.Platform.Enforcement;

namespace DnsWarden.Platform.Tests.Enforcement;

/// <summary>Landlock on a thread of its own (it restricts only that thread and what it starts): writes beneath the allowed directory only.</summary>
[SupportedOSPlatform("linux")]
public sealed class LandlockTests
{
    [Fact]
    public void WritesOnlyBeneathTheAllowedDirectory_ReadsEverywhere()
    {
        if (!OperatingSystem.IsLinux() || Landlock.AbiVersion() < 1)
        {
            Assert.Skip("this kernel has no Landlock");
        }

        string root = Directory.CreateTempSubdirectory("dnsw-landlock-").FullName;
        try
        {
            string allowed = Directory.CreateDirectory(Path.Combine(root, "project")).FullName;
            string other = Directory.CreateDirectory(Path.Combine(root, "home")).FullName;
            File.WriteAllText(Path.Combine(other, "bashrc"), "original\n");
            string? described = null;
            Exception? failure = null;
            bool wroteAllowed = false;
            bool wroteOther = false;
            string? readOther = null;
            var t = new Thread(() =>
            {
                try
                {
                    described = Landlock.RestrictSelf([allowed]);
                    File.WriteAllText(Path.Combine(allowed, "out.txt"), "ok");
                    wroteAllowed = true;
                    readOther = File.ReadAllText(Path.Combine(other, "bashrc"));
                    try
                    {
                        File.AppendAllText(Path.Combine(other, "bashrc"), "planted\n");
                        wroteOther = true;
                    }
                    catch (UnauthorizedAccessException)
                    {
                    }
                }
                catch (Exception e)
                {
                    failure = e;
                }
            });
            t.Start();
            t.Join();
            Assert.Null(failure);
            Assert.True(wroteAllowed);
            Assert.False(wroteOther);
            Assert.Equal("original\n", readOther);
            Assert.Equal("original\n", File.ReadAllText(Path.Combine(other, "bashrc")));
            Assert.Contains(allowed, described, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
