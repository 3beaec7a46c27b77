using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace DnsWarden.Policy;

/// <summary>
/// The token walk every policy file reader shares (leak policy, resolver policy): a comment- and trailing-comma-
/// tolerant Utf8JsonReader, the first error with its line and column, duplicate and unknown keys with a suggestion,
/// and the scalar reads with "expected …, got …" messages.
/// </summary>
internal ref struct PolicyJsonCursor
{
    public readonly ReadOnlySpan<byte> Data;
    public readonly string File;
    public Utf8JsonReader Reader;
    private readonly string _emptyExample;
    private bool _started;

    /// <param name="emptyExample">The smallest useful file, named in the error for a file of only whitespace and comments.</param>
    public PolicyJsonCursor(ReadOnlySpan<byte> data, string file, string emptyExample)
    {
        Data = data;
        File = file;
        _emptyExample = emptyExample;
        Reader = new Utf8JsonReader(data, new JsonReaderOptions
        {
            CommentHandling = JsonCommentHandling.Skip,
            AllowTrailingCommas = true,
            MaxDepth = PolicyFile.MaxDepth,
        });
        Error = null;
        _started = false;
    }

    public PolicyError? Error { get; private set; }

    public bool Next()
    {
        try
        {
            if (Reader.Read())
            {
                _started = true;
                return true;
            }

            return FailAt(Data.Length, "unexpected end of file");
        }
        catch (JsonException e)
        {
            long offset = PolicyFile.OffsetOf(Data, e);
            if (!_started)
            {
                _started = true;
                if (offset >= Data.Length)
                {
                    return FailAt(offset, $"empty file: only whitespace and comments (expected a JSON object such as {_emptyExample})");
                }
            }

            return FailAt(offset, offset >= Data.Length
                ? "unexpected end of file (an object, array or string is not closed)"
                : "invalid JSON: " + StripPosition(e.Message));
        }
    }

    /// <summary>After the root object only whitespace and comments may follow.</summary>
    public bool AtEnd(string what = "policy object")
    {
        try
        {
            if (Reader.Read())
            {
                return Fail($"unexpected content after the {what}");
            }

            return true;
        }
        catch (JsonException e)
        {
            return FailAt(PolicyFile.OffsetOf(Data, e), "invalid JSON: " + StripPosition(e.Message));
        }
    }

    /// <summary>
    /// Moves to the next property of the current object, or past its end (false, no error). Refuses duplicates and
    /// keys outside <paramref name="allowed"/> (null: any key).
    /// </summary>
    public bool NextKey(Dictionary<string, long> seen, string[]? allowed, string? within, [NotNullWhen(true)] out string? key)
    {
        key = null;
        if (!Next() || Reader.TokenType == JsonTokenType.EndObject)
        {
            return false;
        }

        if (!TryGetString(out string name))
        {
            return false;
        }

        key = name;
        if (seen.TryGetValue(key, out long first))
        {
            return Fail($"duplicate key '{key}' (first at line {PolicyFile.At(File, Data, first, "").Line})");
        }

        seen.Add(key, Reader.TokenStartIndex);
        if (allowed is not null && Array.IndexOf(allowed, key) < 0)
        {
            string where = within is null ? "" : $" in {within}";
            string? near = PolicyReader.Nearest(key, allowed);
            string hint = near is null ? "" : $"did you mean '{near}'? ";
            return Fail($"unknown key '{key}'{where} ({hint}expected one of: {string.Join(", ", allowed)})");
        }

        return true;
    }

    public bool Fail(string message) => FailAt(Reader.TokenStartIndex, message);

    public bool FailAt(long offset, string message)
    {
        Error ??= PolicyFile.At(File, Data, offset, message);
        return false;
    }

    /// <summary>An error found in another file this one names (a policy file named by a configuration), kept as it is.</summary>
    public bool FailWith(PolicyError error)
    {
        Error ??= error;
        return false;
    }

    public bool TryGetString(out string value)
    {
        try
        {
            value = Reader.GetString() ?? "";
            return true;
        }
        catch (InvalidOperationException)
        {
            // Escapes that decode to invalid UTF-16 (a lone surrogate such as \uD800).
            value = "";
            return Fail("invalid string: an escape does not form valid Unicode");
        }
    }

    public string Describe() => Reader.TokenType switch
    {
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "the number " + Raw(),
        JsonTokenType.True => "true",
        JsonTokenType.False => "false",
        JsonTokenType.Null => "null",
        _ => Reader.TokenType.ToString(),
    };

    public string Raw()
    {
        string raw = Encoding.UTF8.GetString(Reader.ValueSpan);
        return raw.Length > 40 ? raw[..40] + "…" : raw;
    }

    public static string StripPosition(string message)
    {
        int at = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        return at < 0 ? message : message[..at];
    }

    /// <summary>A value for a message: shortened, with control characters escaped so the message prints on one line.</summary>
    public static string Quote(string value)
    {
        string shown = value.Length > 60 ? value[..60] + "…" : value;
        if (shown.Any(char.IsControl))
        {
            var sb = new StringBuilder(shown.Length + 8);
            foreach (char c in shown)
            {
                if (char.IsControl(c))
                {
                    sb.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:X4}");
                }
                else
                {
                    sb.Append(c);
                }
            }

            shown = sb.ToString();
        }

        return $"'{shown}'";
    }

    public bool ReadString(string path, string expected, out string value)
    {
        value = "";
        if (!Next())
        {
            return false;
        }

        if (Reader.TokenType != JsonTokenType.String)
        {
            return Fail($"{path}: expected {expected}, got {Describe()}");
        }

        return TryGetString(out value);
    }

    /// <summary>A string that must be one of <paramref name="names"/>; <paramref name="index"/> is its position there.</summary>
    public bool ReadEnum(string path, string[] names, out int index)
    {
        index = 0;
        if (!ReadString(path, "one of: " + string.Join(", ", names), out string s))
        {
            return false;
        }

        index = Array.IndexOf(names, s);
        return index >= 0 || Fail($"{path}: {Quote(s)} is not valid (expected one of: {string.Join(", ", names)})");
    }

    public bool ReadInt(string path, int min, int max, out int value)
    {
        value = 0;
        if (!Next())
        {
            return false;
        }

        if (Reader.TokenType != JsonTokenType.Number || !Reader.TryGetInt32(out value) || value < min || value > max)
        {
            return Fail($"{path}: expected a whole number between {min} and {max}, got {Describe()}");
        }

        return true;
    }

    public bool ReadBool(string path, out bool value)
    {
        value = false;
        if (!Next())
        {
            return false;
        }

        if (Reader.TokenType is not (JsonTokenType.True or JsonTokenType.False))
        {
            return Fail($"{path}: expected true or false, got {Describe()}");
        }

        value = Reader.TokenType == JsonTokenType.True;
        return true;
    }

    public bool BeginArray(string path, string expected)
    {
        if (!Next())
        {
            return false;
        }

        return Reader.TokenType == JsonTokenType.StartArray || Fail($"{path}: expected {expected}, got {Describe()}");
    }

    /// <summary>The next token opens an object; the error shows <paramref name="example"/> when there is one.</summary>
    public bool BeginObject(string path, string? example = null)
    {
        if (!Next())
        {
            return false;
        }

        string expected = example is null ? "an object" : "an object such as " + example;
        return Reader.TokenType == JsonTokenType.StartObject || Fail($"{path}: expected {expected}, got {Describe()}");
    }

    /// <summary>A number from <paramref name="min"/> to <paramref name="max"/> (finite; decimals allowed).</summary>
    public bool ReadDouble(string path, double min, double max, out double value)
    {
        value = 0;
        if (!Next())
        {
            return false;
        }

        if (Reader.TokenType != JsonTokenType.Number || !Reader.TryGetDouble(out value) || !double.IsFinite(value)
            || value < min || value > max)
        {
            string range = string.Create(CultureInfo.InvariantCulture, $"between {min} and {max}");
            return Fail($"{path}: expected a number {range}, got {Describe()}");
        }

        return true;
    }

    /// <summary>
    /// An IP address as a string, read as every policy file reads one (<see cref="Profiles.TryParseAddress"/>: IPv4
    /// as a dotted quad, no zone), of <paramref name="family"/> when one is given.
    /// </summary>
    public bool ReadAddress(string path, string expected, System.Net.Sockets.AddressFamily? family, [NotNullWhen(true)] out System.Net.IPAddress? address)
    {
        address = null;
        if (!ReadString(path, expected, out string text))
        {
            return false;
        }

        if (!Profiles.TryParseAddress(text, out address) || (family is { } f && address.AddressFamily != f))
        {
            address = null;
            return Fail($"{path}: expected {expected}, got {Quote(text)}");
        }

        return true;
    }
}
