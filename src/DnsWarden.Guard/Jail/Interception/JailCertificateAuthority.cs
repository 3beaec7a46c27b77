using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace DnsWarden.Guard.Jail.Interception;

/// <summary>
/// The CA of <c>dnsw jail --intercept</c> (docs/JAIL.md, "Interception"): an ephemeral one made at jail start (ECDSA
/// P-256, its key only in this process's memory, never written anywhere) or one the user supplies, and the per-host
/// leaf certificates minted from it on demand for the host proxy to terminate TLS with. Leaves are cached in a bounded
/// table; a name that is not a plain DNS name (an IP literal, a wildcard, anything else a certificate name cannot
/// safely be) is never minted. BCL X.509 does the ASN.1 and the signing; only the choice of fields is ours.
/// </summary>
public sealed class JailCertificateAuthority : IDisposable
{
    /// <summary>Hosts whose leaf is kept; past it the table starts over (each host is minted again when next asked for).</summary>
    public const int MaxCachedHosts = 1024;

    /// <summary>An ephemeral CA lives a week: longer than a jail runs, short enough that a leaked bundle soon means nothing.</summary>
    public static readonly TimeSpan EphemeralValidity = TimeSpan.FromDays(7);

    /// <summary>A leaf lives a day and is minted again when less than half of that is left.</summary>
    public static readonly TimeSpan LeafValidity = TimeSpan.FromDays(1);

    // Clocks of the command and of dnsw agree (one kernel), but a certificate dated this very second is refused by
    // clients that compare with whole seconds: an hour back.
    private static readonly TimeSpan s_backdate = TimeSpan.FromHours(1);

    private readonly X509Certificate2 _ca;
    private readonly ECDsa _leafKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly ConcurrentDictionary<string, (SslStreamCertificateContext Context, X509Certificate2 Leaf)> _leaves = new(StringComparer.Ordinal);
    private readonly Lock _mint = new();

    private JailCertificateAuthority(X509Certificate2 ca)
    {
        _ca = ca;
    }

    /// <summary>The CA's certificate (with its private key; never exported).</summary>
    public X509Certificate2 Certificate => _ca;

    /// <summary>The CA's certificate as PEM: what the command is given to trust.</summary>
    public string CertificatePem => _ca.ExportCertificatePem();

    /// <summary>Makes an ephemeral CA: ECDSA P-256, basicConstraints CA:TRUE pathlen 0, keyCertSign, valid <see cref="EphemeralValidity"/>.</summary>
    public static JailCertificateAuthority CreateEphemeral(string subjectName)
    {
        using ECDsa key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName(subjectName), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: true, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        DateTimeOffset now = DateTimeOffset.UtcNow;
        return new JailCertificateAuthority(request.CreateSelfSigned(now - s_backdate, now + EphemeralValidity));
    }

    /// <summary>
    /// Loads a CA the user supplies: a PEM certificate that is a CA and its PEM private key (EC or RSA, unencrypted).
    /// False with one line naming the file and what was expected.
    /// </summary>
    public static bool TryLoad(string certificateFile, string keyFile, out JailCertificateAuthority? ca, out string? error)
    {
        ArgumentNullException.ThrowIfNull(certificateFile);
        ArgumentNullException.ThrowIfNull(keyFile);
        ca = null;
        if (!TryReadText(certificateFile, out string? certText, out error) || !TryReadText(keyFile, out string? keyText, out error))
        {
            return false;
        }

        X509Certificate2 cert;
        try
        {
            cert = X509Certificate2.CreateFromPem(certText);
        }
        catch (CryptographicException)
        {
            error = $"{certificateFile}: expected a PEM certificate (-----BEGIN CERTIFICATE-----)";
            return false;
        }

        using (cert)
        {
            if (cert.Extensions.OfType<X509BasicConstraintsExtension>().FirstOrDefault() is not { CertificateAuthority: true })
            {
                error = $"{certificateFile}: expected a CA certificate (basicConstraints CA:TRUE), got one for {cert.Subject}";
                return false;
            }

            if (cert.NotAfter.ToUniversalTime() <= DateTime.UtcNow)
            {
                error = $"{certificateFile}: the CA certificate expired on {cert.NotAfter.ToUniversalTime().ToString("u", CultureInfo.InvariantCulture)}";
                return false;
            }

            X509Certificate2? withKey = WithKey(cert, keyText!, keyFile, certificateFile, out error);
            if (withKey is null)
            {
                return false;
            }

            ca = new JailCertificateAuthority(withKey);
            return true;
        }
    }

    private static X509Certificate2? WithKey(X509Certificate2 cert, string keyText, string keyFile, string certificateFile, out string? error)
    {
        error = null;
        AsymmetricAlgorithm? key = null;
        try
        {
            try
            {
                if (cert.GetECDsaPublicKey() is not null)
                {
                    var ec = ECDsa.Create();
                    key = ec;
                    ec.ImportFromPem(keyText);
                }
                else if (cert.GetRSAPublicKey() is not null)
                {
                    var rsa = RSA.Create();
                    key = rsa;
                    rsa.ImportFromPem(keyText);
                }
                else
                {
                    error = $"{certificateFile}: expected an EC or RSA CA certificate, got key algorithm {cert.GetKeyAlgorithm()}";
                    return null;
                }
            }
            catch (Exception e) when (e is ArgumentException or CryptographicException)
            {
                error = $"{keyFile}: expected an unencrypted PEM private key (-----BEGIN PRIVATE KEY----- or EC/RSA PRIVATE KEY) of the CA's algorithm";
                return null;
            }

            try
            {
                return key is ECDsa ecKey ? cert.CopyWithPrivateKey(ecKey) : cert.CopyWithPrivateKey((RSA)key);
            }
            catch (Exception e) when (e is ArgumentException or CryptographicException)
            {
                error = $"{keyFile}: expected the private key of {certificateFile} (this key does not match its certificate)";
                return null;
            }
        }
        finally
        {
            key?.Dispose();
        }
    }

    private static bool TryReadText(string path, out string? text, out string? error)
    {
        try
        {
            text = File.ReadAllText(path);
            error = null;
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            text = null;
            error = $"{path}: cannot read it ({e.Message})";
            return false;
        }
    }

    /// <summary>
    /// The certificate context to terminate TLS for <paramref name="host"/> with (the leaf, then the CA): minted on first
    /// use, kept while more than half its life is left. Null when the name is not one a certificate is minted for.
    /// </summary>
    public SslStreamCertificateContext? ContextFor(string host)
    {
        ArgumentNullException.ThrowIfNull(host);
        string name = host.TrimEnd('.').ToLowerInvariant();
        if (!IsMintableName(name))
        {
            return null;
        }

        DateTime now = DateTime.UtcNow;
        if (_leaves.TryGetValue(name, out var held) && held.Leaf.NotAfter.ToUniversalTime() - now > LeafValidity / 2)
        {
            return held.Context;
        }

        lock (_mint)
        {
            if (_leaves.TryGetValue(name, out held) && held.Leaf.NotAfter.ToUniversalTime() - now > LeafValidity / 2)
            {
                return held.Context;
            }

            if (_leaves.Count >= MaxCachedHosts)
            {
                _leaves.Clear();
            }

            X509Certificate2 leaf = Mint(name);
            SslStreamCertificateContext context = SslStreamCertificateContext.Create(leaf, [_ca], offline: true);
            _leaves[name] = (context, leaf);
            return context;
        }
    }

    /// <summary>Hosts currently cached (for tests and the summary).</summary>
    public int CachedHosts => _leaves.Count;

    /// <summary>Mints a leaf for <paramref name="host"/> (no cache); null when the name is not mintable. Exposed for tests.</summary>
    public X509Certificate2? MintLeaf(string host)
    {
        ArgumentNullException.ThrowIfNull(host);
        string name = host.TrimEnd('.').ToLowerInvariant();
        return IsMintableName(name) ? Mint(name) : null;
    }

    private X509Certificate2 Mint(string name)
    {
        var request = new CertificateRequest(new X500DistinguishedName("CN=" + name), _leafKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: false, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(name);
        request.CertificateExtensions.Add(san.Build(critical: false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        if (_ca.Extensions.OfType<X509SubjectKeyIdentifierExtension>().Any())
        {
            // A supplied CA may carry no key identifier; then the leaf names none (RFC 5280 §4.2.1.1 lets self-signed CAs omit it).
            request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(_ca, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        }

        DateTimeOffset now = DateTimeOffset.UtcNow;
        DateTimeOffset notAfter = now + LeafValidity;
        DateTimeOffset caNotAfter = new(_ca.NotAfter.ToUniversalTime(), TimeSpan.Zero);
        if (notAfter > caNotAfter)
        {
            notAfter = caNotAfter;
        }

        // A random 128-bit serial, positive (RFC 5280 §4.1.2.2: unique per CA, at most 20 octets).
        byte[] serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7f;
        using X509Certificate2 signed = request.Create(_ca, now - s_backdate, notAfter, serial);
        return signed.CopyWithPrivateKey(_leafKey);
    }

    /// <summary>
    /// A plain DNS name of at least two labels: letters, digits, '-' and '_' (RFC 1035 §2.3.4 lengths: labels ≤ 63,
    /// name ≤ 253). Never an IP literal (a certificate for one would be an IP SAN, and the proxy allows no literal) and
    /// never a wildcard or anything a certificate name could make more of.
    /// </summary>
    public static bool IsMintableName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length is 0 or > 253 || IPAddress.TryParse(name.Trim('[', ']'), out _))
        {
            return false;
        }

        string[] labels = name.Split('.');
        if (labels.Length < 2)
        {
            return false;
        }

        foreach (string label in labels)
        {
            if (label.Length is 0 or > 63 || label[0] == '-' || label[^1] == '-'
                || !label.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            {
                return false;
            }
        }

        // All-numeric last label: an address in disguise (e.g. 1.2.3.4 spelt with a trailing part).
        return !labels[^1].All(char.IsAsciiDigit);
    }

    public void Dispose()
    {
        foreach ((_, X509Certificate2 leaf) in _leaves.Values)
        {
            leaf.Dispose();
        }

        _leaves.Clear();
        _leafKey.Dispose();
        _ca.Dispose();
    }
}
