using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace DnsWarden.Export;

/// <summary>
/// A ClickHouse <c>DateTime('UTC')</c> in JSONEachRow: <c>"2026-12-06 10:00:00"</c>, the text form every version
/// reads and writes (a number would be read as seconds by some versions and refused by others).
/// </summary>
internal sealed class ClickHouseDateTimeConverter : JsonConverter<DateTimeOffset>
{
    public const string Format = "yyyy-MM-dd HH:mm:ss";

    public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        string? text = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
        if (text is null || !DateTimeOffset.TryParseExact(text, Format, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out DateTimeOffset value))
        {
            throw new JsonException($"expected a DateTime as \"{Format}\", got {(text is null ? reader.TokenType.ToString() : "\"" + text + "\"")}");
        }

        return value;
    }

    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options)
    {
        Span<byte> text = stackalloc byte[Format.Length];
        value.UtcDateTime.TryFormat(text, out int written, Format, CultureInfo.InvariantCulture);
        writer.WriteStringValue(text[..written]);
    }
}
