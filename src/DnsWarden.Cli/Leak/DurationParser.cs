using System.Globalization;

namespace DnsWarden.Cli.Leak;

/// <summary>Parses "10s", "500ms", "2m", "1h" or a bare number of seconds; "0" means no limit.</summary>
internal static class DurationParser
{
    public static bool TryParse(string text, out TimeSpan duration)
    {
        duration = default;
        ReadOnlySpan<char> s = text.AsSpan().Trim();
        (string suffix, double scale)[] units = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)];
        double factor = 1;
        foreach ((string suffix, double scale) in units)
        {
            if (s.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
            {
                s = s[..^suffix.Length];
                factor = scale;
                break;
            }
        }

        if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || value < 0 || double.IsInfinity(value))
        {
            return false;
        }

        duration = TimeSpan.FromSeconds(value * factor);
        return true;
    }
}
