using System.Text.Json.Serialization;

namespace DnsWarden.Export;

/// <summary>
/// Rows to and from JSONEachRow, generated at build time (no reflection: the native build needs none). 64-bit
/// numbers may come back quoted (ClickHouse's <c>output_format_json_quote_64bit_integers</c>), so numbers are read
/// from strings too.
/// </summary>
[JsonSourceGenerationOptions(NumberHandling = JsonNumberHandling.AllowReadingFromString)]
[JsonSerializable(typeof(LeakRow))]
[JsonSerializable(typeof(QueryRow))]
[JsonSerializable(typeof(DecisionRow))]
internal sealed partial class ExportJsonContext : JsonSerializerContext;
