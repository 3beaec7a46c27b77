using System.Globalization;

namespace DnsWarden.E2E.Leak;

/// <summary>The leak topology is built and every phase captured once per test run; the leak test classes share it.</summary>
[CollectionDefinition(Name)]
public sealed class LeakScenarioCollection : ICollectionFixture<LeakScenarioFixture>
{
    public const string Name = "leak-scenario";
}

/// <summary>
/// Runs <see cref="LeakScenario"/> once and keeps its captures as artefacts: in a temp directory named like
/// TestNet's (so the sweep of a later run removes it once this process is gone), and copied under
/// <c>$DNSW_E2E_ARTIFACTS/leak</c> when that is set.
/// </summary>
public sealed class LeakScenarioFixture : IAsyncLifetime
{
    private readonly string _directory = Path.Combine(
        Path.GetTempPath(),
        $"{TestNet.NamePrefix}{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}-leak-{Guid.NewGuid().ToString("N")[..8]}");
    private readonly Dictionary<string, IReadOnlyList<OracleFrame>> _frames = new(StringComparer.Ordinal);
    private string? _skipReason;
    private Exception? _failure;
    private LeakScenarioResult? _result;

    public string ArtifactDirectory => _directory;

    public async ValueTask InitializeAsync()
    {
        _skipReason = LeakNet.SkipReason() ?? HostTools.MissingToolsReason("tshark");
        if (_skipReason is not null)
        {
            return;
        }

        try
        {
            _result = await LeakScenario.RunAsync(_directory);
            foreach (LeakPhaseCapture c in _result.Captures.Values)
            {
                _frames[c.Phase] = await TsharkOracle.ReadAsync(c.PcapngPath);
            }

            string? keep = Environment.GetEnvironmentVariable("DNSW_E2E_ARTIFACTS");
            if (!string.IsNullOrEmpty(keep))
            {
                string dir = Path.Combine(keep, "leak");
                Directory.CreateDirectory(dir);
                foreach (LeakPhaseCapture c in _result.Captures.Values)
                {
                    File.Copy(c.PcapngPath, Path.Combine(dir, Path.GetFileName(c.PcapngPath)), overwrite: true);
                    File.Copy(c.DumpcapPcapngPath, Path.Combine(dir, Path.GetFileName(c.DumpcapPcapngPath)), overwrite: true);
                }
            }
        }
        catch (Exception ex)
        {
            _failure = ex;
        }
    }

    /// <summary>The scenario's result; skips, or rethrows the scenario's failure.</summary>
    public LeakScenarioResult Get()
    {
        if (_skipReason is not null)
        {
            Assert.Skip(_skipReason);
        }

        if (_failure is not null)
        {
            throw new InvalidOperationException("The leak scenario failed.", _failure);
        }

        return _result!;
    }

    /// <summary>One phase's capture.</summary>
    public LeakPhaseCapture Capture(string phase) => Get().Captures[phase];

    /// <summary>tshark's reading of one phase's capture.</summary>
    public IReadOnlyList<OracleFrame> Frames(string phase)
    {
        Get();
        return _frames[phase];
    }

    // The captures go with the run; set DNSW_E2E_ARTIFACTS to keep copies for debugging a failed assertion.
    public ValueTask DisposeAsync()
    {
        try
        {
            if (Directory.Exists(_directory))
            {
                Directory.Delete(_directory, recursive: true);
            }
        }
        catch (IOException)
        {
            // Best effort: the next run's sweeper removes what is left.
        }

        return ValueTask.CompletedTask;
    }
}
