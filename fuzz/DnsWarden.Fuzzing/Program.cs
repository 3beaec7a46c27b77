using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using DnsWarden.Fuzzing;
using DnsWarden.Fuzzing.Fuzzers;

IFuzzer[] all =
[
    new FramesFuzzer(),
    new DnsFuzzer(),
    new TlsFuzzer(),
    new HttpFirstBytesFuzzer(),
    new Http2FramesFuzzer(),
    new QuicFuzzer(),
    new PcapFuzzer(),
    new PcapNgFuzzer(),
    new DissectorFuzzer(),
    new LeakFuzzer(),
    new TunPacketFuzzer(),
    new TunFilterFuzzer(),
];

if (args.Length < 2 || args[0] is "-h" or "--help")
{
    Console.WriteLine("""
        usage: DnsWarden.Fuzzing <Name|all> --libfuzzer
               DnsWarden.Fuzzing <Name|all> --random N --seed S [--time SECONDS] [--crash-dir DIR]
               DnsWarden.Fuzzing <Name|all> --replay DIR
               DnsWarden.Fuzzing <Name|all> --write-corpus DIR
        """);
    Console.WriteLine("targets: " + string.Join(", ", all.Select(f => f.Name)));
    return args.Length == 0 ? 2 : 0;
}

IFuzzer[] selected = args[0].Equals("all", StringComparison.OrdinalIgnoreCase)
    ? all
    : all.Where(f => f.Name.Equals(args[0], StringComparison.OrdinalIgnoreCase)).ToArray();
if (selected.Length == 0)
{
    Console.Error.WriteLine($"unknown target '{args[0]}'; targets: {string.Join(", ", all.Select(f => f.Name))}");
    return 2;
}

string? Option(string name)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}

if (args.Contains("--libfuzzer"))
{
    if (selected.Length != 1)
    {
        Console.Error.WriteLine("--libfuzzer takes one target");
        return 2;
    }

    IFuzzer target = selected[0];
    SharpFuzz.Fuzzer.LibFuzzer.Run(span => target.FuzzTarget(span));
    return 0;
}

if (Option("--write-corpus") is string corpusDir)
{
    foreach (IFuzzer fuzzer in selected)
    {
        string dir = Path.Combine(corpusDir, fuzzer.Name);
        Directory.CreateDirectory(dir);
        IReadOnlyList<byte[]> seeds = fuzzer.GetSeeds();
        for (int i = 0; i < seeds.Count; i++)
        {
            File.WriteAllBytes(Path.Combine(dir, $"seed-{i:D3}.bin"), seeds[i]);
        }

        Console.WriteLine($"{fuzzer.Name}: {seeds.Count} seeds in {dir}");
    }

    return 0;
}

if (Option("--replay") is string replayDir)
{
    int failures = 0;
    foreach (IFuzzer fuzzer in selected)
    {
        string dir = Directory.Exists(Path.Combine(replayDir, fuzzer.Name)) ? Path.Combine(replayDir, fuzzer.Name) : replayDir;
        if (selected.Length > 1 && dir == replayDir)
        {
            continue;
        }

        failures += Runner.Replay(fuzzer, dir);
    }

    return failures == 0 ? 0 : 1;
}

if (Option("--random") is string countText)
{
    // The pass scripts/test.sh runs must catch a reader that reads past its input: only a Checked build does.
    Console.WriteLine(DnsWarden.Wire.WireBuild.BoundsChecked
        ? "wire bounds checks: on"
        : "wire bounds checks: off (a Release build; build with -c Checked for a pass that catches unchecked offsets)");
    long count = long.Parse(countText, CultureInfo.InvariantCulture);
    int seed = int.Parse(Option("--seed") ?? "1", CultureInfo.InvariantCulture);
    double? seconds = Option("--time") is string t ? double.Parse(t, CultureInfo.InvariantCulture) : null;
    string crashDir = Option("--crash-dir") ?? "fuzz-crashes";
    int failed = 0;
    foreach (IFuzzer fuzzer in selected)
    {
        if (!Runner.RunRandom(fuzzer, count, seed, seconds, crashDir))
        {
            failed++;
        }
    }

    Console.WriteLine(failed == 0 ? $"{selected.Length} passed, 0 failed" : $"{selected.Length - failed} passed, {failed} failed");
    return failed == 0 ? 0 : 1;
}

Console.Error.WriteLine("no mode given: --libfuzzer, --random N, --replay DIR or --write-corpus DIR");
return 2;

namespace DnsWarden.Fuzzing
{
    internal static class Runner
    {
        /// <summary>A single input taking longer than this is a hang (a loop the reader cannot leave).</summary>
        private static readonly TimeSpan s_inputTimeout = TimeSpan.FromSeconds(1);

        public static int Replay(IFuzzer fuzzer, string dir)
        {
            int files = 0;
            int failures = 0;
            foreach (string path in Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                // A saved failure's stack trace sits beside its input.
                if (path.EndsWith(".txt", StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }

                files++;
                byte[] input = path.EndsWith(".hex", StringComparison.OrdinalIgnoreCase)
                    ? Convert.FromHexString(string.Concat(File.ReadAllText(path).Where(char.IsAsciiHexDigit)))
                    : File.ReadAllBytes(path);
                try
                {
                    fuzzer.FuzzTarget(input);
                }
                catch (Exception ex)
                {
                    failures++;
                    Console.Error.WriteLine($"{fuzzer.Name}: {path}: {ex}");
                }
            }

            Console.WriteLine($"{fuzzer.Name}: replayed {files} files from {dir}, {failures} failed");
            return failures;
        }

        /// <summary>
        /// Runs the seeds, then mutations of them, on a worker thread while this thread watches the clock: an
        /// input running past <see cref="s_inputTimeout"/> ends the process with it saved. False on a failure.
        /// </summary>
        public static bool RunRandom(IFuzzer fuzzer, long count, int seed, double? seconds, string crashDir)
        {
            IReadOnlyList<byte[]> seeds = fuzzer.GetSeeds();
            var mutator = new Mutator(seed, seeds);
            byte[]? current = null;
            long startedAt = 0;
            long done = 0;
            long bytes = 0;
            byte[]? failedInput = null;
            Exception? failure = null;
            var clock = Stopwatch.StartNew();
            TimeSpan limit = seconds is double s ? TimeSpan.FromSeconds(s) : TimeSpan.MaxValue;

            var worker = new Thread(
                () =>
                {
                    for (long i = 0; i < count && clock.Elapsed < limit; i++)
                    {
                        byte[] input = i < seeds.Count ? seeds[(int)i] : mutator.Next();
                        Volatile.Write(ref current, input);
                        Volatile.Write(ref startedAt, Stopwatch.GetTimestamp());
                        try
                        {
                            fuzzer.FuzzTarget(input);
                        }
                        catch (Exception ex)
                        {
                            failedInput = input;
                            failure = ex;
                            return;
                        }

                        Volatile.Write(ref startedAt, 0);
                        bytes += input.Length;
                        Volatile.Write(ref done, i + 1);
                    }
                },
                maxStackSize: 8 * 1024 * 1024)
            {
                IsBackground = true,
                Name = "fuzz-" + fuzzer.Name,
            };
            worker.Start();

            TimeSpan nextReport = TimeSpan.FromSeconds(30);
            while (!worker.Join(50))
            {
                long start = Volatile.Read(ref startedAt);
                // The first inputs pay for JIT compilation; the watchdog arms once the seeds have run.
                if (start != 0 && Volatile.Read(ref done) >= seeds.Count && Stopwatch.GetElapsedTime(start) > s_inputTimeout)
                {
                    byte[] slow = Volatile.Read(ref current)!;
                    string file = Save(crashDir, fuzzer.Name, "timeout", slow, $"input ran longer than {s_inputTimeout.TotalSeconds} s");
                    Console.Error.WriteLine($"{fuzzer.Name}: TIMEOUT after {Volatile.Read(ref done)} inputs: one input ran > {s_inputTimeout.TotalSeconds} s; saved to {file}");
                    Console.Error.WriteLine(Convert.ToHexString(slow));
                    Environment.Exit(3);
                }

                if (clock.Elapsed > nextReport)
                {
                    nextReport += TimeSpan.FromSeconds(30);
                    long n = Volatile.Read(ref done);
                    Console.WriteLine($"  {fuzzer.Name}: {n} inputs, {n / clock.Elapsed.TotalSeconds:F0}/s");
                }
            }

            double elapsed = clock.Elapsed.TotalSeconds;
            if (failure is not null)
            {
                string file = Save(crashDir, fuzzer.Name, "crash", failedInput!, failure.ToString());
                Console.Error.WriteLine($"{fuzzer.Name}: FAILED after {done} inputs ({elapsed:F1} s): {failure.GetType().Name}: {failure.Message}");
                Console.Error.WriteLine($"  input ({failedInput!.Length} bytes) saved to {file}");
                Console.Error.WriteLine($"  hex: {Convert.ToHexString(failedInput)}");
                Console.Error.WriteLine(failure);
                return false;
            }

            Console.WriteLine(
                $"{fuzzer.Name}: {done} inputs ({seeds.Count} seeds) in {elapsed:F1} s = {done / elapsed:F0}/s, " +
                $"mean {(done == 0 ? 0 : bytes / done)} bytes, seed {seed}: no failure");
            return true;
        }

        private static string Save(string dir, string name, string kind, byte[] input, string details)
        {
            Directory.CreateDirectory(dir);
            string id = Convert.ToHexString(SHA256.HashData(input), 0, 8).ToLowerInvariant();
            string path = Path.Combine(dir, $"{name}-{kind}-{id}.hex");
            File.WriteAllText(path, Convert.ToHexString(input).ToLowerInvariant() + Environment.NewLine);
            File.WriteAllText(Path.ChangeExtension(path, ".txt"), details + Environment.NewLine);
            return path;
        }
    }
}
