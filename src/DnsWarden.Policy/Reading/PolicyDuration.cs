using System.Globalization;

namespace DnsWarden.Policy;

/// <summary>
/// The one duration grammar of dnsw, in policy and configuration files and on every command line: a number (decimals
/// allowed) and a unit — <c>500ms</c>, <c>1.5s</c>, <c>2m</c>, <c>1h</c>, <c>1d</c> — or a number alone, in seconds
/// (<c>0</c>, <c>30</c>). Each caller checks its own range and names it in its error.
/// </summary>
public static class PolicyDuration
{
    /// <summary>The longest duration a policy's window may name; longer values are more likely a typo than a plan.</summary>
    public static TimeSpan Max { get; } = TimeSpan.FromDays(7);

    /// <summary>What the grammar is, for error messages.</summary>
    public const string Expected = "a number and a unit: ms, s, m, h or d, e.g. 500ms, 1.5s, 2m (a number alone is seconds)";

    private static readonly (string Unit, long Ticks)[] s_units =
    [
        ("ms", TimeSpan.TicksPerMillisecond),
        ("s", TimeSpan.TicksPerSecond),
        ("m", TimeSpan.TicksPerMinute),
        ("h", TimeSpan.TicksPerHour),
        ("d", TimeSpan.TicksPerDay),
    ];

    public static bool TryParse(string? text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        if (string.IsNullOrEmpty(text))
        {
            return false;
        }

        ReadOnlySpan<char> number = text;
        long unit = TimeSpan.TicksPerSecond;
        foreach ((string suffix, long ticks) in s_units)
        {
            if (number.EndsWith(suffix, StringComparison.Ordinal))
            {
                number = number[..^suffix.Length];
                unit = ticks;
                break;
            }
        }

        // Digits with at most one decimal point, no sign, no exponent, no spaces: 12 characters are plenty.
        int point = number.IndexOf('.');
        if (number.Length is 0 or > 12 || number[0] == '.' || number[^1] == '.'
            || number.ContainsAnyExcept("0123456789.") || (point >= 0 && number[(point + 1)..].Contains('.')))
        {
            return false;
        }

        decimal n = decimal.Parse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture);
        decimal ticksTotal = decimal.Round(n * unit);
        if (ticksTotal > TimeSpan.MaxValue.Ticks)
        {
            return false;
        }

        value = TimeSpan.FromTicks((long)ticksTotal);
        return true;
    }

    /// <summary>The shortest text <see cref="TryParse"/> reads back as the same value (whole units only).</summary>
    public static string Format(TimeSpan value)
    {
        if (value == TimeSpan.Zero)
        {
            return "0";
        }

        if (value.Ticks % TimeSpan.TicksPerDay == 0)
        {
            return (value.Ticks / TimeSpan.TicksPerDay).ToString(CultureInfo.InvariantCulture) + "d";
        }

        if (value.Ticks % TimeSpan.TicksPerHour == 0)
        {
            return (value.Ticks / TimeSpan.TicksPerHour).ToString(CultureInfo.InvariantCulture) + "h";
        }

        if (value.Ticks % TimeSpan.TicksPerMinute == 0)
        {
            return (value.Ticks / TimeSpan.TicksPerMinute).ToString(CultureInfo.InvariantCulture) + "m";
        }

        if (value.Ticks % TimeSpan.TicksPerSecond == 0)
        {
            return (value.Ticks / TimeSpan.TicksPerSecond).ToString(CultureInfo.InvariantCulture) + "s";
        }

        return ((long)value.TotalMilliseconds).ToString(CultureInfo.InvariantCulture) + "ms";
    }
}
