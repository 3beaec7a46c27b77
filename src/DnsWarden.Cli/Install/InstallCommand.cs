using System.CommandLine;
using System.Reflection;

namespace DnsWarden.Cli.Install;

/// <summary>
/// <c>dnsw install</c>: the native binary, a man page per command, bash/zsh/fish completions and the proxy's systemd
/// unit under a prefix (default /usr/local), each file named as it is written. <c>--destdir</c> stages the same tree
/// under another root, as packagers expect (the files still point at the prefix).
/// </summary>
internal static class InstallCommand
{
    private const string UnitResource = "dnsw-proxy.service";

    public static Command Build()
    {
        var prefix = new Option<string>("--prefix") { Description = "Install under this directory (bin/, share/man/, share/*completion*, lib/systemd/system/).", DefaultValueFactory = _ => "/usr/local" };
        prefix.Validators.Add(r =>
        {
            string? p = r.GetValueOrDefault<string>();
            if (p is null || !Path.IsPathRooted(p))
            {
                r.AddError($"--prefix: '{p}' is not an absolute path");
            }
        });
        var destdir = new Option<string?>("--destdir") { Description = "Write the tree under this staging root instead of / (for packaging); the files still name the prefix." };
        var command = new Command("install", "Install dnsw: the binary, man pages, shell completions (bash, zsh, fish) and the systemd unit of dnsw proxy.")
        {
            prefix, destdir,
        };
        command.SetAction(parse => Run(parse.GetValue(prefix)!, parse.GetValue(destdir), parse.InvocationConfiguration.Output));
        return command;
    }

    private static int Run(string prefix, string? destdir, TextWriter stdout)
    {
        string? self = Environment.ProcessPath;
        // The native build is one file; an apphost (dnsw beside dnsw.dll) or `dotnet dnsw.dll` would install a stub.
        if (self is null || !Path.GetFileName(self).Equals("dnsw", StringComparison.Ordinal) || File.Exists(self + ".dll"))
        {
            Console.Error.WriteLine($"dnsw install: this is not the native dnsw binary ({self ?? "unknown"}); build it with ./dnsw and run ./dnsw install");
            return ExitCodes.InputError;
        }

        string root = destdir is null ? "" : Path.GetFullPath(destdir);
        string Under(string path) => root.Length == 0 ? path : Path.Join(root, path);
        CommandNode tree = CommandNode.Of(Program.BuildRoot());
        string bin = Path.Join(prefix, "bin", "dnsw");
        var files = new List<(string Path, byte[]? Copy, string? Text, UnixFileMode Mode)>
        {
            (bin, File.ReadAllBytes(self), null, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute),
        };
        const UnixFileMode Readable = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        foreach (CommandNode node in tree.All())
        {
            files.Add((Path.Join(prefix, "share", "man", "man1", ManPageWriter.PageName(node) + ".1"), null, ManPageWriter.Write(node, VersionFlag.Text), Readable));
        }

        files.Add((Path.Join(prefix, "share", "bash-completion", "completions", "dnsw"), null, CompletionWriter.Bash(tree), Readable));
        files.Add((Path.Join(prefix, "share", "zsh", "site-functions", "_dnsw"), null, CompletionWriter.Zsh(tree), Readable));
        files.Add((Path.Join(prefix, "share", "fish", "vendor_completions.d", "dnsw.fish"), null, CompletionWriter.Fish(tree), Readable));
        files.Add((Path.Join(prefix, "lib", "systemd", "system", UnitResource), null, Unit().Replace("/usr/local/bin/dnsw", bin, StringComparison.Ordinal), Readable));

        foreach ((string path, byte[]? copy, string? text, UnixFileMode mode) in files)
        {
            string target = Under(path);
            try
            {
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                // Written beside and renamed over: a running dnsw keeps its old binary, and no half-written file is left.
                string temporary = target + ".dnsw-install";
                if (copy is not null)
                {
                    File.WriteAllBytes(temporary, copy);
                }
                else
                {
                    File.WriteAllText(temporary, text);
                }

                if (!OperatingSystem.IsWindows())
                {
                    File.SetUnixFileMode(temporary, mode);
                }

                File.Move(temporary, target, overwrite: true);
                stdout.WriteLine($"installed {target}");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"dnsw install: {CliText.About(target, e)}");
                return ExitCodes.InputError;
            }
        }

        return ExitCodes.Ok;
    }

    private static string Unit()
    {
        using Stream? s = Assembly.GetExecutingAssembly().GetManifestResourceStream(UnitResource);
        using var reader = new StreamReader(s ?? throw new InvalidOperationException("the systemd unit is not embedded in this build"));
        return reader.ReadToEnd();
    }
}
