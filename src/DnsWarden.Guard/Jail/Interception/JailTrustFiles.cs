using System.Runtime.Versioning;
using DnsWarden.Platform.Enforcement;

namespace DnsWarden.Guard.Jail.Interception;

/// <summary>
/// The interception CA as files the command is told to trust: <c>ca.pem</c> (the CA alone, for NODE_EXTRA_CA_CERTS) and
/// <c>bundle.pem</c> (the CA and the system roots, for SSL_CERT_FILE, CURL_CA_BUNDLE, REQUESTS_CA_BUNDLE and
/// GIT_SSL_CAINFO) in <c>/run/dnsw/jail-ID.trust/</c>, root's, mode 0644 in a 0755 directory — readable, never
/// writable, by the command's user. The jail's private /run hides the host's, so the jail's init copies the directory
/// to the same path inside (<see cref="JailInit"/>), where it goes with the jail's mount namespace; this one is removed
/// when the jail ends, and by the next run when a jail was killed.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class JailTrustFiles : IDisposable
{
    public const string CaFileName = "ca.pem";
    public const string BundleFileName = "bundle.pem";

    private const UnixFileMode ReadableByAll = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    private JailTrustFiles(string directory)
    {
        Directory = directory;
    }

    /// <summary>The directory (the same path inside the jail).</summary>
    public string Directory { get; }

    public string CaFile => Path.Combine(Directory, CaFileName);

    public string BundleFile => Path.Combine(Directory, BundleFileName);

    /// <summary>The trust directory of jail <paramref name="jailId"/>.</summary>
    public static string DirectoryFor(string jailId) => Path.Combine(RunDirectory.Path, "jail-" + jailId + ".trust");

    /// <summary>Writes the CA and the bundle for jail <paramref name="jailId"/>.</summary>
    public static JailTrustFiles Write(string jailId, string caPem)
    {
        ArgumentNullException.ThrowIfNull(caPem);
        var files = new JailTrustFiles(DirectoryFor(jailId));
        using (RunDirectory.Lock())
        {
            System.IO.Directory.CreateDirectory(files.Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        }

        try
        {
            string ca = caPem.EndsWith('\n') ? caPem : caPem + "\n";
            WriteFile(files.CaFile, ca);
            WriteFile(files.BundleFile, ca + (File.Exists(InterceptionSettings.SystemRoots) ? File.ReadAllText(InterceptionSettings.SystemRoots) : ""));
            return files;
        }
        catch
        {
            files.Dispose();
            throw;
        }
    }

    private static void WriteFile(string path, string text)
    {
        using var stream = new FileStream(path, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = ReadableByAll });
        using var writer = new StreamWriter(stream);
        writer.Write(text);
    }

    /// <summary>Removes the trust directory of jail <paramref name="jailId"/> if one is there (a dead jail's).</summary>
    public static void Remove(string jailId) => Delete(DirectoryFor(jailId));

    private static void Delete(string directory)
    {
        using (RunDirectory.Lock())
        {
            try
            {
                if (System.IO.Directory.Exists(directory))
                {
                    System.IO.Directory.Delete(directory, recursive: true);
                }
            }
            catch (IOException)
            {
            }

            RunDirectory.RemoveIfEmpty();
        }
    }

    public void Dispose() => Delete(Directory);
}
