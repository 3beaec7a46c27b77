using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace DnsWarden.Guard.Jail.Interception;

/// <summary>
/// <c>--intercept</c>: the CA the proxy mints from, and the roots it checks real servers against — null for the
/// system's own validation, otherwise the system roots plus what <c>--upstream-ca</c> named. Validation is never off.
/// </summary>
public sealed record InterceptionSettings(JailCertificateAuthority Ca, X509Certificate2Collection? UpstreamRoots)
{
    /// <summary>Where Debian and its kin keep the system roots as one PEM file.</summary>
    public const string SystemRoots = "/etc/ssl/certs/ca-certificates.crt";

    /// <summary>
    /// The system roots (<see cref="SystemRoots"/>, when present) and every certificate in each of
    /// <paramref name="files"/> (PEM). False with one line naming the file and what was expected.
    /// </summary>
    public static bool TryLoadUpstreamRoots(IReadOnlyList<string> files, out X509Certificate2Collection? roots, out string? error)
    {
        ArgumentNullException.ThrowIfNull(files);
        roots = null;
        error = null;
        if (files.Count == 0)
        {
            return true;
        }

        var all = new X509Certificate2Collection();
        if (File.Exists(SystemRoots))
        {
            all.ImportFromPemFile(SystemRoots);
        }

        foreach (string file in files)
        {
            int before = all.Count;
            try
            {
                all.ImportFromPemFile(file);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                error = $"{file}: cannot read it ({e.Message})";
                return false;
            }
            catch (CryptographicException)
            {
                error = $"{file}: expected PEM certificates (-----BEGIN CERTIFICATE-----), found one that does not parse";
                return false;
            }

            if (all.Count == before)
            {
                error = $"{file}: expected PEM certificates (-----BEGIN CERTIFICATE-----), found none";
                return false;
            }
        }

        roots = all;
        return true;
    }
}
