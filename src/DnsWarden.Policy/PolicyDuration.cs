using System.Globalization;

namespace DnsWarden.Policy;

/// <summary>Durations in policy files: a whole number with a unit, <c>500ms</c>, <c>60s</c>, <c>2m</c>, <c>1h</c>, or a bare <c>0</c>.</summary>
public static class PolicyDuration
{
    /// <summary>The longest duration a policy may name; longer values are more likely a typo than a plan.</summary>
    public static TimeSpan Max { get; } = TimeSpan.FromDays(7);

    public static bool TryParse(string text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        if (text == "0")
        {
            return true;
        }

        int digits = 0;
        while (digits < text.Length && char.IsAsciiDigit(text[digits]))
        {
            digits++;
        }

        // Nine digits keep the product below long.MaxValue ticks for every unit before the Max check.
        if (digits is 0 or > 9)
        {
            return false;
        }

        long n = long.Parse(text.AsSpan(0, digits), NumberStyles.None, CultureInfo.InvariantCulture);
        TimeSpan result;
        switch (text.AsSpan(digits))
        {
            case "ms":
                result = TimeSpan.FromMilliseconds(n);
                break;
            case "s":
                result = TimeSpan.FromSeconds(n);
                break;
            case "m":
                result = TimeSpan.FromMinutes(n);
                break;
            case "h":
                result = TimeSpan.FromHours(n);
                break;
            default:
                return false;
        }

        if (result > Max)
        {
            return false;
        }

        value = result;
        return true;
    }

    /// <summary>The shortest text <see cref="TryParse"/> reads back as the same value (whole units only).</summary>
    public static string Format(TimeSpan value)
    {
        if (value == TimeSpan.Zero)
        {
            return "0";
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
