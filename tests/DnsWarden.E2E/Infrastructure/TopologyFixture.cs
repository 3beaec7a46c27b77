namespace DnsWarden.E2E;

/// <summary>
/// A topology built once for a test class. Its tests skip with the reason when the machine lacks root or a tool, and
/// fail with the build error when it could not be built (a fixture that throws would hide which step failed).
/// </summary>
public abstract class TopologyFixture : IAsyncLifetime
{
    private Exception? _failure;

    public TestNet Net { get; private set; } = null!;

    public string? SkipReason { get; private set; }

    /// <summary>Skips the calling test, or fails it with why the topology could not be built.</summary>
    public void Check()
    {
        if (SkipReason is not null)
        {
            Assert.Skip(SkipReason);
        }

        if (_failure is not null)
        {
            throw new InvalidOperationException($"{GetType().Name}: the topology failed to build", _failure);
        }
    }

    public async ValueTask InitializeAsync()
    {
        SkipReason = FindSkipReason();
        if (SkipReason is not null)
        {
            return;
        }

        try
        {
            Net = await TestNet.CreateAsync();
            await BuildAsync(Net);
        }
        catch (Exception e)
        {
            _failure = e;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Net is not null)
        {
            await TearDownAsync();
            await Net.DisposeAsync();
        }

        GC.SuppressFinalize(this);
    }

    /// <summary>Null when the topology can be built here; else why not (not root, a tool missing).</summary>
    protected abstract string? FindSkipReason();

    protected abstract Task BuildAsync(TestNet net);

    /// <summary>Runs before the namespaces go (e.g. a command's own cleanup).</summary>
    protected virtual Task TearDownAsync() => Task.CompletedTask;
}
