using DnsWarden.Indicators;

namespace DnsWarden.Leak.Events;

/// <summary>Applies a privacy mode to events on their way out (files, stdout); the rules always see everything.</summary>
public sealed class PrivacyFilter(PrivacyMode mode, BaseDomains baseDomains)
{
    private readonly PrivacyRedactor _redactor = new(mode, baseDomains);

    public PrivacyMode Mode => mode;

    public static bool TryParse(string text, out PrivacyMode mode) => PrivacyRedactor.TryParse(text, out mode);

    public static string Name(PrivacyMode mode) => PrivacyRedactor.Name(mode);

    public LeakEvent Apply(LeakEvent e) => mode switch
    {
        PrivacyMode.Full => e,
        PrivacyMode.Redacted => e with
        {
            QName = RedactName(e.QName),
            Source = RedactEndpoint(e.Source),
            Process = e.Process is { } p ? p with { CommandLine = null } : null,
            OnBehalfOf = e.OnBehalfOf is { } o ? o with { Process = o.Process is { } q ? q with { CommandLine = null } : null } : null,
            Connection = e.Connection is { } c ? c with { ServerName = RedactName(c.ServerName) } : null,
        },
        _ => e with
        {
            QName = null,
            Source = null,
            Process = e.Process is { } p ? new ProcessInfo(p.Pid, p.Name, null, null, null, []) : null,
            OnBehalfOf = e.OnBehalfOf is { } o ? o with { Process = o.Process is { } q ? new ProcessInfo(q.Pid, q.Name, null, null, null, []) : null } : null,
            Connection = e.Connection is { } c ? c with { ServerName = null } : null,
            GeoIp = e.GeoIp is { } g ? new GeoInfo(g.CountryCode, null, null, null) : null,
            ServerName = e.Provider is null ? null : e.ServerName,
        },
    };

    /// <inheritdoc cref="PrivacyRedactor.RedactName"/>
    public string? RedactName(string? name) => _redactor.RedactName(name);

    /// <inheritdoc cref="PrivacyRedactor.RedactEndpoint"/>
    public static string? RedactEndpoint(string? endpoint) => PrivacyRedactor.RedactEndpoint(endpoint);
}
