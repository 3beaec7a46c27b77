using System.Text.Json;

namespace DnsWarden.E2E.Leak;

/// <summary>
/// One <c>dnsw leak watch --pcap FILE --format json --privacy …</c> run of the built CLI: its JSON lines split into
/// the events and the closing summary line.
/// </summary>
public sealed class LeakRun
{
    public const int ExitNoEvents = 0;
    public const int ExitEvents = 2;
    public const int ExitInputError = 3;


    private LeakRun(CommandResult result, IReadOnlyList<JsonElement> events, JsonElement? summary)
    {
        Result = result;
        Events = events;
        SummaryOrNull = summary;
    }

    public CommandResult Result { get; }

    /// <summary>Every line before the summary, in order.</summary>
    public IReadOnlyList<JsonElement> Events { get; }

    public JsonElement? SummaryOrNull { get; }

    /// <summary>The last line, <c>{"event":"summary",…}</c>; fails the test with the output when it is missing.</summary>
    public JsonElement Summary => SummaryOrNull ?? throw new Xunit.Sdk.XunitException("No summary line.\n" + Describe());

    public static async Task<LeakRun> WatchAsync(string pcap, IReadOnlyList<string> flags, string privacy = "full")
    {
        CommandResult result = await DnswAsync(["leak", "watch", "--pcap", pcap, "--format", "json", "--privacy", privacy, .. flags]);
        return FromResult(result);
    }

    /// <summary>Splits a finished run's stdout into events and the summary (the last line, when it is one).</summary>
    public static LeakRun FromResult(CommandResult result)
    {
        List<JsonElement> lines = ParseLines(result.StdOut);
        JsonElement? summary = null;
        if (lines.Count > 0 && IsSummary(lines[^1]))
        {
            summary = lines[^1];
            lines.RemoveAt(lines.Count - 1);
        }

        // A summary anywhere but last breaks the contract; leave it among the events so the counts fail loudly.
        return new LeakRun(result, lines, summary);
    }

    public static Task<CommandResult> DnswAsync(IReadOnlyList<string> args) =>
        ProcessRunner.RunAsync(DnswProgram.Program, [.. DnswProgram.Prefix, .. args], TimeSpan.FromSeconds(90));

    /// <summary>The <c>by_type</c> object of a report: at the root of its JSON, or of its last JSON line.</summary>
    public static JsonElement? FindByType(string stdout)
    {
        try
        {
            using JsonDocument whole = JsonDocument.Parse(stdout);
            if (whole.RootElement.ValueKind == JsonValueKind.Object && whole.RootElement.TryGetProperty("by_type", out JsonElement b))
            {
                return b.Clone();
            }
        }
        catch (JsonException)
        {
            // Not one document: JSON lines.
        }

        List<JsonElement> lines = ParseLines(stdout);
        for (int i = lines.Count - 1; i >= 0; i--)
        {
            if (lines[i].ValueKind == JsonValueKind.Object && lines[i].TryGetProperty("by_type", out JsonElement b))
            {
                return b;
            }
        }

        return null;
    }

    public void AssertExit(int expected) =>
        Assert.True(Result.ExitCode == expected, $"expected exit {expected}\n{Describe()}");

    public string Describe() => Result.Describe();

    private static bool IsSummary(JsonElement e) =>
        e.ValueKind == JsonValueKind.Object
        && e.TryGetProperty("event", out JsonElement k)
        && k.ValueKind == JsonValueKind.String
        && k.GetString() == "summary";

    private static List<JsonElement> ParseLines(string text)
    {
        var lines = new List<JsonElement>();
        foreach (string line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!line.StartsWith('{'))
            {
                continue;
            }

            try
            {
                using JsonDocument doc = JsonDocument.Parse(line);
                lines.Add(doc.RootElement.Clone());
            }
            catch (JsonException ex)
            {
                throw new Xunit.Sdk.XunitException($"Not a JSON line: {line}\n{ex.Message}");
            }
        }

        return lines;
    }
}
