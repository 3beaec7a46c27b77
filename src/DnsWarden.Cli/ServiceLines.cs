namespace DnsWarden.Cli;

/// <summary>
/// A service's own lines on standard error. Under systemd with stderr to the journal, each line starts with its
/// syslog priority ("&lt;6&gt;" info, "&lt;4&gt;" warning, "&lt;3&gt;" error: sd-daemon(3)) so `journalctl -p warning` finds
/// the failures; the journal stamps the time. Elsewhere, plain lines.
/// </summary>
internal sealed class ServiceLines(TextWriter stderr, bool journal)
{
    public Task InfoAsync(string line) => WriteAsync(6, line);

    public Task NoticeAsync(string line) => WriteAsync(5, line);

    public Task WarningAsync(string line) => WriteAsync(4, line);

    public Task ErrorAsync(string line) => WriteAsync(3, line);

    private async Task WriteAsync(int priority, string line)
    {
        await stderr.WriteLineAsync(journal ? $"<{priority}>{line}" : line).ConfigureAwait(false);
        await stderr.FlushAsync(CancellationToken.None).ConfigureAwait(false);
    }
}
