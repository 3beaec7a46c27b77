using DnsWarden.Export;
using DnsWarden.Resolver.Logging;

namespace DnsWarden.Cli.Export;

/// <summary>The exporter's figures on the proxy's /metrics: rows sent, dropped (by why), waiting in the spool.</summary>
internal static class ExportMetrics
{
    public static IReadOnlyList<MetricFamily> Families(ClickHouseExporter exporter)
    {
        ExportStatistics s = exporter.Statistics;
        return
        [
            new MetricFamily("dnsw_export_rows_total", "counter", "Rows the ClickHouse exporter handled, by what became of them.",
            [
                new MetricSample("state", "sent", s.RowsSent),
                new MetricSample("state", "dropped_queue_full", s.RowsDroppedQueueFull),
                new MetricSample("state", "dropped_spool_full", s.RowsDroppedSpoolFull),
                new MetricSample("state", "dropped_unwritable", s.RowsUnwritable),
            ]),
            new MetricFamily("dnsw_export_spool_rows", "gauge", "Rows waiting in the export spool for the server.", [new MetricSample(null, null, s.SpoolRows)]),
            new MetricFamily("dnsw_export_spool_bytes", "gauge", "Bytes the export spool holds.", [new MetricSample(null, null, s.SpoolBytes)]),
        ];
    }
}
