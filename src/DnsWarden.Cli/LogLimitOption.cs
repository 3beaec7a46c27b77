using System.CommandLine;
using DnsWarden.Policy;

namespace DnsWarden.Cli;

/// <summary><c>--log-limit SIZE</c>, the query log's byte budget a minute, for every command that writes one.</summary>
internal static class LogLimitOption
{
    public static Option<string?> Create(string logOption)
    {
        var option = new Option<string?>("--log-limit")
        {
            Description = $"Most {logOption} writes a minute, e.g. 4MiB (the default), 0 for no limit; repeats are folded into one line with a count first, and what the limit leaves out is counted in a log_suppressed line.",
        };
        option.Validators.Add(r =>
        {
            string? text = r.GetValueOrDefault<string?>();
            if (text is not null && !ProxyConfig.TryParseLogLimit(text, out _, out string? error))
            {
                r.AddError($"--log-limit: {error}");
            }
        });
        return option;
    }

    /// <summary>Bytes a minute for a validated value; the default when the option was not given.</summary>
    public static long BytesPerMinute(string? text) =>
        text is not null && ProxyConfig.TryParseLogLimit(text, out long bytes, out _) ? bytes : ProxyConfig.DefaultQueryLogBytesPerMinute;
}
