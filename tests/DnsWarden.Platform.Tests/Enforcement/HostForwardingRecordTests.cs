using System.Globalization;
using System.Runtime.Versioning;
using DnsWarden.Platform.Enforcement;

namespace DnsWarden.Platform.Tests.Enforcement;

/// <summary>The forwarding lease records under /run/dnsw, as the sweep of gone namespaces treats them.</summary>
[SupportedOSPlatform("linux")]
public sealed class HostForwardingRecordTests
{
    [Fact]
    public void ARecordOfANamespaceNotInTheLiveSet_IsKeptWhileAHolderLives_AndForgottenOnceNoneDoes()
    {
        if (HostTool.SkipReason() is { } why)
        {
            Assert.Skip(why);
        }

        // Ids no namespace has (inode numbers of nsfs start at 4026531835): the sweep takes them for gone namespaces.
        string held = Path.Combine(RunDirectory.Path, "forwarding-" + (9_000_000_000L + Environment.ProcessId).ToString(CultureInfo.InvariantCulture));
        string abandoned = held + "1";
        try
        {
            using (RunDirectory.Lock())
            {
                File.WriteAllText(held, $"holder {ProcessIdentity.Current}\nset net/ipv4/conf/eth9/forwarding 0 1\n");
                File.WriteAllText(abandoned, $"holder {ProcessIdentity.Current with { StartTime = ProcessIdentity.Current.StartTime + 1 }}\nset net/ipv4/conf/eth9/forwarding 0 1\n");
                HostForwarding.ForgetGoneNamespaces(NetworkNamespace.LiveIds());
            }

            Assert.True(File.Exists(held), "a live holder's record was forgotten: it could no longer restore what it opened");
            Assert.False(File.Exists(abandoned), "a gone namespace's record whose holders are dead was kept");
        }
        finally
        {
            using (RunDirectory.Lock())
            {
                File.Delete(held);
                File.Delete(abandoned);
                RunDirectory.RemoveIfEmpty();
            }
        }
    }
}
