namespace DnsWarden.Platform.Network;

/// <summary>
/// The system's DNS configuration: /etc/resolv.conf and, where systemd-resolved runs, its upstream file and
/// <c>resolvectl status</c> (best effort). Reading /etc/resolv.conf is right inside <c>ip netns exec</c> too, which
/// bind-mounts /etc/netns/NAME/resolv.conf over it.
/// </summary>
/// <param name="ResolvConf">Null when the file cannot be read (<paramref name="ResolvConfError"/> says why).</param>
/// <param name="ResolvedUpstream">/run/systemd/resolve/resolv.conf when systemd-resolved runs.</param>
/// <param name="ResolvedScopes">Parsed <c>resolvectl status</c>, null when resolvectl is absent or failed.</param>
public sealed record SystemDnsConfiguration(
    string ResolvConfPath,
    ResolvConf? ResolvConf,
    string? ResolvConfError,
    bool SystemdResolvedPresent,
    ResolvConf? ResolvedUpstream,
    IReadOnlyList<ResolvedScope>? ResolvedScopes)
{
    public static SystemDnsConfiguration Read(bool runResolvectl = true)
    {
        ResolvConf? conf = ResolvConf.TryLoad(ResolvConf.DefaultPath, out string? error);
        bool resolved = Directory.Exists(ResolvedStatus.RuntimeDirectory);
        ResolvConf? upstream = resolved && File.Exists(ResolvedStatus.UpstreamResolvConf) ? ResolvConf.TryLoad(ResolvedStatus.UpstreamResolvConf, out _) : null;
        IReadOnlyList<ResolvedScope>? scopes = null;
        if (resolved && runResolvectl && ResolvedStatus.TryRun(TimeSpan.FromSeconds(3)) is { } text)
        {
            scopes = ResolvedStatus.Parse(text);
        }

        return new SystemDnsConfiguration(ResolvConf.DefaultPath, conf, error, resolved, upstream, scopes);
    }
}
