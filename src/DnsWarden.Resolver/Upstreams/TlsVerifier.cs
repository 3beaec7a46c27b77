using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using DnsWarden.Policy;

namespace DnsWarden.Resolver.Upstreams;

/// <summary>
/// Certificate checks shared by DoT and DoH: the chain (the system store, or only the roots in <c>CaFile</c>), the
/// name, and optional SPKI SHA-256 pins (RFC 7469 §2.4). Remembers why the last handshake was refused, since the
/// TLS stack only reports that it was.
/// </summary>
internal sealed class TlsVerifier
{
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

        if (_roots is not null)
        {
            // Only the configured roots: a private resolver's CA should not be outranked by the public ones.
            var policy = new X509ChainPolicy
            {
                TrustMode = X509ChainTrustMode.CustomRootTrust,
                RevocationMode = X509RevocationMode.NoCheck,
            };
            policy.CustomTrustStore.AddRange(_roots);
            options.CertificateChainPolicy = policy;
        }

        return options;
    }

    private bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        UpstreamError result = Check(certificate, errors);
        Volatile.Write(ref _lastFailure, (int)result);
        return result == UpstreamError.None;
    }

    internal UpstreamError Check(X509Certificate? certificate, SslPolicyErrors errors)
    {
        if (certificate is null)
        {
            return UpstreamError.TlsFailure;
        }

        if (_verify && errors != SslPolicyErrors.None)
        {
            return UpstreamError.TlsFailure;
        }

        if (_pins.Count == 0)
        {
            return UpstreamError.None;
        }

        using X509Certificate2 owned = certificate as X509Certificate2 is null
            ? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData())
            : new X509Certificate2(certificate);
        return MatchesPin(owned) ? UpstreamError.None : UpstreamError.PinMismatch;
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
