using System.Text.Json.Serialization;

namespace DnsWarden.Export;

/// <summary>
/// What every row carries: when, on which host, from which sensor, and the event id that makes a batch sent twice
/// count once (the tables are ReplacingMergeTree keyed by it). The producer fills the rest; the exporter stamps
/// <see cref="Host"/>, <see cref="Sensor"/> and <see cref="EventId"/> on its own thread when it batches the row.
/// </summary>
public abstract class ExportRow
{
    private DateTimeOffset _seconds;
    private uint _nanoseconds;

    /// <summary>When it happened, to the 100 ns the runtime keeps.</summary>
    [JsonIgnore]
    public DateTimeOffset Timestamp
    {
        get => _seconds.AddTicks(_nanoseconds / 100);
        init
        {
            long ticks = value.UtcTicks;
            _seconds = new DateTimeOffset(ticks - ticks % TimeSpan.TicksPerSecond, TimeSpan.Zero);
            _nanoseconds = (uint)(ticks % TimeSpan.TicksPerSecond * 100);
        }
    }

    [JsonPropertyName("host")]
    [JsonInclude]
    public string Host { get; internal set; } = "";

    [JsonPropertyName("sensor")]
    [JsonInclude]
    public string Sensor { get; internal set; } = "";

    [JsonPropertyName("event_id")]
    [JsonInclude]
    public Guid EventId { get; internal set; }

    private protected ExportRow(ExportTable table)
    {
        Table = table;
    }

    [JsonIgnore]
    public ExportTable Table { get; }

    /// <summary>Whole seconds, UTC: ClickHouse 18.16 has no DateTime64, so <see cref="Nanoseconds"/> keeps the rest.</summary>
    [JsonPropertyName("ts")]
    [JsonPropertyOrder(-2)]
    [JsonInclude]
    [JsonConverter(typeof(ClickHouseDateTimeConverter))]
    internal DateTimeOffset Seconds
    {
        get => _seconds;
        set => _seconds = value;
    }

    [JsonPropertyName("ts_ns")]
    [JsonPropertyOrder(-1)]
    [JsonInclude]
    internal uint Nanoseconds
    {
        get => _nanoseconds;
        set => _nanoseconds = value;
    }
}
