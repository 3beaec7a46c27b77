using DnsWarden.Indicators;

namespace DnsWarden.Resolver.Logging;

/// <summary>
/// What a privacy mode keeps of a query log entry, field by field — one rule for every place entries leave the
/// process (the JSON query log, the ClickHouse export): <c>full</c> keeps all; <c>redacted</c> cuts the client to
/// its network and the name to its base domain; <c>minimal</c> drops client, name and answers.
/// </summary>
public static class QueryLogPrivacy
{
    public static string? Client(QueryLogEntry entry, PrivacyRedactor redactor)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentNullException.ThrowIfNull(redactor);
        return redactor.Mode switch
        {
            PrivacyMode.Full => entry.Client,
            PrivacyMode.Minimal => null,
            _ => PrivacyRedactor.RedactEndpoint(entry.Client),
        };
    }

    public static string? QName(QueryLogEntry entry, PrivacyRedactor redactor)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentNullException.ThrowIfNull(redactor);
        return redactor.Mode switch
        {
            PrivacyMode.Full => entry.QName,
            PrivacyMode.Minimal => null,
            _ => redactor.RedactName(entry.QName),
        };
    }

    public static IReadOnlyList<string> Answers(QueryLogEntry entry, PrivacyRedactor redactor)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentNullException.ThrowIfNull(redactor);
        return redactor.Mode == PrivacyMode.Minimal ? [] : entry.Answers;
    }
}
