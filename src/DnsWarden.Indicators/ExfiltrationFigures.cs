namespace DnsWarden.Indicators;

/// <summary>Exfiltration indicator figures for one base domain over the window.</summary>
public sealed record ExfiltrationFigures(
    string BaseDomain,
    int Score,
    int Queries,
    int UniqueSubdomains,
    double MeanEntropy,
    int MaxLabelLength,
    int MaxNameLength,
    double TxtNullShare,
    double NxdomainShare,
    double WindowSeconds);
