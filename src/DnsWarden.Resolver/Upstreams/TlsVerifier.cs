using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using DnsWarden.Policy;

namespace DnsWarden.Resolver.Upstreams;

/// <summary>
/// Certificate checks shared by DoT and DoH: the chain (the system store, or only the roots in <c>CaFile</c>: an <see cref="X509ChainPolicy"/> with
/// <see cref="X509ChainTrustMode.CustomRootTrust"/>), the
/// name, and optional SPKI SHA-256 pins (RFC 7469 §2.4). Remembers why the last handshake was refused, since the
/// TLS stack only reports that it was.
/// </summary>
internal sealed class TlsVerifier
{
    /// <summary>RFC 5280 §4.2.1.12 id-kp-serverAuth.</summary>
    private static readonly Oid s_serverAuth = new("1.3.6.1.5.5.7.3.1", "Server Authentication");

    private readonly X509Certificate2Collection? _roots;
    private readonly IReadOnlyList<byte[]> _pins;
    private readonly bool _verify;
    private int _lastFailure;

    public TlsVerifier(UpstreamConfig config)
    {
        _pins = config.PinsSha256;
        _verify = config.VerifyCertificate;
        if (config.CaFile is not null)
        {
            _roots = [];
            try
            {
                _roots.ImportFromPemFile(config.CaFile);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException)
            {
                throw new ArgumentException($"upstream '{config.Url}': cannot read CA file '{config.CaFile}': {ex.Message}", nameof(config), ex);
            }

            if (_roots.Count == 0)
            {
                throw new ArgumentException($"upstream '{config.Url}': CA file '{config.CaFile}' holds no certificate", nameof(config));
            }
        }
    }

    /// <summary>Why the most recent refused handshake was refused.</summary>
    public UpstreamError LastFailure => (UpstreamError)Volatile.Read(ref _lastFailure);

    /// <summary>Called before a handshake, so a refusal that never reached the certificate check reads as TlsFailure.</summary>
    public void ResetFailure() => Volatile.Write(ref _lastFailure, (int)UpstreamError.TlsFailure);

    /// <summary>Client options for one upstream: SNI and name check against <paramref name="targetHost"/>.</summary>
    public SslClientAuthenticationOptions CreateOptions(string targetHost, List<SslApplicationProtocol>? applicationProtocols)
    {
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = targetHost,
            ApplicationProtocols = applicationProtocols,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = Validate,
        };

        return options;
    }

    private bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        UpstreamError result = Check(certificate, chain, errors);
        Volatile.Write(ref _lastFailure, (int)result);
        return result == UpstreamError.None;
    }

    internal UpstreamError Check(X509Certificate? certificate, X509Chain? presented, SslPolicyErrors errors)
    {
        if (certificate is null)
        {
            return UpstreamError.TlsFailure;
        }

        using X509Certificate2 leaf = certificate as X509Certificate2 is null
            ? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData())
            : new X509Certificate2(certificate);
        if (_verify)
        {
            // With a CA file the chain is judged against its roots alone (the system's verdict on the chain is
            // ignored: it does not know them); the name check stands either way.
            SslPolicyErrors ignored = _roots is null ? SslPolicyErrors.None : SslPolicyErrors.RemoteCertificateChainErrors;
            if ((errors & ~ignored) != SslPolicyErrors.None || (_roots is not null && !ChainsToRoots(leaf, presented)))
            {
                return UpstreamError.TlsFailure;
            }
        }

        if (_pins.Count == 0)
        {
            return UpstreamError.None;
        }

        return MatchesPin(leaf) ? UpstreamError.None : UpstreamError.PinMismatch;
    }

    private bool ChainsToRoots(X509Certificate2 leaf, X509Chain? presented)
    {
        using var chain = new X509Chain();
        X509ChainPolicy policy = chain.ChainPolicy;
        policy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        policy.CustomTrustStore.AddRange(_roots!);
        policy.RevocationMode = X509RevocationMode.NoCheck;
        policy.ApplicationPolicy.Add(s_serverAuth);
        if (presented is not null)
        {
            // The intermediates the server sent, as the TLS stack collected them.
            for (int i = 1; i < presented.ChainElements.Count; i++)
            {
                policy.ExtraStore.Add(presented.ChainElements[i].Certificate);
            }
        }

        bool built = chain.Build(leaf);
        foreach (X509ChainElement element in chain.ChainElements)
        {
            if (!ReferenceEquals(element.Certificate, leaf))
            {
                element.Certificate.Dispose();
            }
        }

        return built;
    }

    private bool MatchesPin(X509Certificate2 leaf)
    {
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(leaf.PublicKey.ExportSubjectPublicKeyInfo(), digest);
        foreach (byte[] pin in _pins)
        {
            if (CryptographicOperations.FixedTimeEquals(pin, digest))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The SPKI SHA-256 pin of a certificate, as <see cref="UpstreamConfig.PinsSha256"/> holds them.</summary>
    public static byte[] PinOf(X509Certificate2 certificate) => SHA256.HashData(certificate.PublicKey.ExportSubjectPublicKeyInfo());
}
