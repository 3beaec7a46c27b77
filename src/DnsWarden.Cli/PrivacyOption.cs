using System.CommandLine;

namespace DnsWarden.Cli;

/// <summary><c>--privacy full|redacted|minimal</c>, the one privacy switch of every command that writes what it saw.</summary>
internal static class PrivacyOption
{
    /// <param name="what">What the mode cuts, in the command's words ("What events keep", "What --out keeps").</param>
    /// <param name="defaulted">Whether the option itself defaults to <c>redacted</c>; the proxy's falls back to its configuration.</param>
    public static Option<string?> Create(string what, bool defaulted = true)
    {
        var option = new Option<string?>("--privacy") { Description = what + ": full, redacted (default) or minimal." };
        if (defaulted)
        {
            option.DefaultValueFactory = _ => "redacted";
        }

        option.AcceptOnlyFromAmong("full", "redacted", "minimal");
        return option;
    }
}
