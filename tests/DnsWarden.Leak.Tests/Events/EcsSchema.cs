using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;

namespace DnsWarden.Leak.Tests.Events;

/// <summary>
/// The Elastic Common Schema's own field definitions as the oracle for dnsw's ECS lines: Elastic's @elastic/ecs package
/// (generated from the ECS repository; scripts/setup.sh --test unpacks the pinned version into .tools/ecs), read with
/// node. <see cref="Problems"/> says, for one line, every key that is neither an ECS field nor under <c>dnsw.</c>, every
/// value whose JSON type does not fit the field's ECS type, and every value outside a field's allowed values.
/// </summary>
internal sealed class EcsSchema
{
    public const string PackageVersion = "8.11.5";

    private static readonly Lazy<(EcsSchema? Schema, string? Missing)> s_loaded = new(Load);

    private readonly Dictionary<string, (string Type, HashSet<string>? Allowed)> _fields;

    private EcsSchema(Dictionary<string, (string Type, HashSet<string>? Allowed)> fields) => _fields = fields;

    /// <summary>The schema, or null and why it is not there (the caller skips, naming the setup step).</summary>
    public static EcsSchema? TryGet(out string? missing)
    {
        (EcsSchema? schema, missing) = s_loaded.Value;
        return schema;
    }

    public int Count => _fields.Count;

    public bool IsField(string name) => _fields.ContainsKey(name);

    public IReadOnlyList<string> Problems(JsonElement line)
    {
        var problems = new List<string>();
        foreach ((string key, JsonElement value) in Flatten(line, ""))
        {
            if (key.StartsWith("dnsw.", StringComparison.Ordinal))
            {
                continue;
            }

            if (!_fields.TryGetValue(key, out (string Type, HashSet<string>? Allowed) field))
            {
                problems.Add($"{key}: not an ECS {PackageVersion} field and not under dnsw.");
                continue;
            }

            if (!Fits(field.Type, value))
            {
                problems.Add($"{key}: {value.GetRawText()} does not fit ECS type {field.Type}");
            }

            if (field.Allowed is { } allowed && value.ValueKind == JsonValueKind.String && !allowed.Contains(value.GetString()!))
            {
                problems.Add($"{key}: '{value.GetString()}' is not one of its allowed values ({string.Join(", ", allowed)})");
            }
        }

        return problems;
    }

    /// <summary>Every leaf as its dotted ECS name; array elements carry the array's name (ECS lists of objects, such as <c>dns.answers</c>, name their members that way).</summary>
    public static IEnumerable<(string Key, JsonElement Value)> Flatten(JsonElement e, string prefix)
    {
        if (e.ValueKind == JsonValueKind.Object)
        {
            foreach (JsonProperty p in e.EnumerateObject())
            {
                foreach ((string, JsonElement) leaf in Flatten(p.Value, prefix.Length == 0 ? p.Name : prefix + "." + p.Name))
                {
                    yield return leaf;
                }
            }
        }
        else if (e.ValueKind == JsonValueKind.Array)
        {
            foreach (JsonElement item in e.EnumerateArray())
            {
                foreach ((string, JsonElement) leaf in Flatten(item, prefix))
                {
                    yield return leaf;
                }
            }
        }
        else
        {
            yield return (prefix, e);
        }
    }

    private static bool Fits(string type, JsonElement value) => type switch
    {
        "long" or "integer" or "short" or "byte" => value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out _),
        "float" or "scaled_float" or "double" => value.ValueKind == JsonValueKind.Number,
        "boolean" => value.ValueKind is JsonValueKind.True or JsonValueKind.False,
        "ip" => value.ValueKind == JsonValueKind.String && IPAddress.TryParse(value.GetString(), out _),
        "date" => value.ValueKind == JsonValueKind.String
            && DateTimeOffset.TryParseExact(value.GetString(), ["yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'"], CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out _),
        // keyword, wildcard, match_only_text, constant_keyword, flattened: text.
        _ => value.ValueKind == JsonValueKind.String,
    };

    private static string? RepoRoot()
    {
        for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "DnsWarden.slnx")))
            {
                return d.FullName;
            }
        }

        return null;
    }

    private static (EcsSchema?, string?) Load()
    {
        string? root = RepoRoot();
        string flat = Path.Combine(root ?? ".", ".tools", "ecs", PackageVersion, "package", "generated", "ecs_flat.js");
        if (!File.Exists(flat))
        {
            return (null, $"{flat} is missing: scripts/setup.sh --test unpacks @elastic/ecs {PackageVersion} there");
        }

        string? node = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, "node")).FirstOrDefault(File.Exists);
        if (node is null)
        {
            return (null, "node is not installed (Debian package nodejs; scripts/setup.sh --test)");
        }

        // name → [type, allowed values or null], as the package's generated definitions hold them.
        const string Script = """
            const f = require(process.argv[1]).EcsFlat;
            const out = {};
            for (const [k, v] of Object.entries(f)) out[k] = [v.type, v.allowed_values ? v.allowed_values.map(a => a.name) : null];
            process.stdout.write(JSON.stringify(out));
            """;
        var psi = new ProcessStartInfo(node) { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("-e");
        psi.ArgumentList.Add(Script);
        psi.ArgumentList.Add(flat);
        using Process p = Process.Start(psi)!;
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        string json = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"node could not read {flat}: {stderr.Result}");
        }

        var fields = new Dictionary<string, (string, HashSet<string>?)>(StringComparer.Ordinal);
        using JsonDocument doc = JsonDocument.Parse(json);
        foreach (JsonProperty f in doc.RootElement.EnumerateObject())
        {
            JsonElement allowed = f.Value[1];
            fields[f.Name] = (f.Value[0].GetString()!, allowed.ValueKind == JsonValueKind.Array ? [.. allowed.EnumerateArray().Select(a => a.GetString()!)] : null);
        }

        return (new EcsSchema(fields), null);
    }
}
