using BenchmarkDotNet.Running;
using DnsWarden.Export;

namespace DnsWarden.Benchmarks;

public static class Program
{
    /// <summary>BenchmarkDotNet, or <c>write-leak-capture FILE PACKETS [--one-interface]</c> to make the capture of the leak figures.</summary>
    public static void Main(string[] args)
    {
        if (args.Length >= 3 && args[0] == "write-leak-capture")
        {
            LeakCaptureGenerator.Write(args[1], int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture), twoInterfaces: !args.Contains("--one-interface"));
            return;
        }

        if (args.Length >= 2 && args[0] == "time-leak")
        {
            LeakTiming.Run(args[1]);
            return;
        }

        if (args.Length >= 3 && args[0] == "export-throughput")
        {
            ExportThroughput.Run(args[1], int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture),
                args.Length > 3 ? int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : ExportSettings.DefaultBatchRows,
                args.Length > 4 ? args[4] : null);
            return;
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
    }
}
