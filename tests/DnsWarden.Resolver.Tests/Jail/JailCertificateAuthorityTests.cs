using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using DnsWarden.Guard.Jail.Interception;

namespace DnsWarden.Resolver.Tests.Jail;

/// <summary>The interception CA: leaves that chain to it, carry the host as their one SAN, and are never minted for what is not a plain name.</summary>
public sealed class JailCertificateAuthorityTests : IDisposable
{
    private readonly JailCertificateAuthority _ca = JailCertificateAuthority.CreateEphemeral("CN=dnsw test CA");
    private readonly string _dir = Directory.CreateTempSubdirectory("dnsw-ca-").FullName;

    public void Dispose()
    {
        _ca.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private static bool Chains(X509Certificate2 leaf, X509Certificate2 root)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.CustomTrustStore.Add(root);
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid("1.3.6.1.5.5.7.3.1"));
        return chain.Build(leaf);
    }

    [Fact]
    public void TheEphemeralCaIsACaWithAShortLife()
    {
        X509Certificate2 ca = _ca.Certificate;
        Assert.True(ca.HasPrivateKey);
        Assert.True(Assert.Single(ca.Extensions.OfType<X509BasicConstraintsExtension>()).CertificateAuthority);
        Assert.Equal(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, Assert.Single(ca.Extensions.OfType<X509KeyUsageExtension>()).KeyUsages);
        Assert.Equal("ECC", ca.PublicKey.Oid.FriendlyName);
        Assert.True(ca.NotAfter.ToUniversalTime() - DateTime.UtcNow <= JailCertificateAuthority.EphemeralValidity);
        Assert.StartsWith("-----BEGIN CERTIFICATE-----", _ca.CertificatePem, StringComparison.Ordinal);
        Assert.DoesNotContain("PRIVATE KEY", _ca.CertificatePem, StringComparison.Ordinal);
    }

    [Fact]
    public void ALeafChainsToTheCaAndNamesTheHostAsItsOneSan()
    {
        using X509Certificate2 leaf = _ca.MintLeaf("API.Example.test.")!;
        Assert.True(leaf.HasPrivateKey);
        Assert.Equal(_ca.Certificate.Subject, leaf.Issuer);
        Assert.True(Chains(leaf, _ca.Certificate));
        X509SubjectAlternativeNameExtension san = Assert.Single(leaf.Extensions.OfType<X509SubjectAlternativeNameExtension>());
        Assert.Equal(["api.example.test"], san.EnumerateDnsNames());
        Assert.Empty(san.EnumerateIPAddresses());
        Assert.True(leaf.MatchesHostname("api.example.test"));
        Assert.False(leaf.MatchesHostname("other.example.test"));
        Assert.False(Assert.Single(leaf.Extensions.OfType<X509BasicConstraintsExtension>()).CertificateAuthority);
        Assert.True(leaf.NotAfter.ToUniversalTime() - DateTime.UtcNow <= JailCertificateAuthority.LeafValidity);
        Assert.True(leaf.NotAfter <= _ca.Certificate.NotAfter);

        // Another CA's leaf does not chain to this one.
        using JailCertificateAuthority other = JailCertificateAuthority.CreateEphemeral("CN=dnsw test CA");
        using X509Certificate2 foreign = other.MintLeaf("api.example.test")!;
        Assert.False(Chains(foreign, _ca.Certificate));
    }

    [Theory]
    [InlineData("203.0.113.90")]
    [InlineData("2001:db8::1")]
    [InlineData("[2001:db8::1]")]
    [InlineData("*.example.test")]
    [InlineData("a*.example.test")]
    [InlineData("localhost")]
    [InlineData("example.123")]
    [InlineData("bad..example.test")]
    [InlineData("-bad.example.test")]
    [InlineData("sp ace.example.test")]
    [InlineData("nul\0.example.test")]
    [InlineData("")]
    public void WhatIsNotAPlainNameIsNeverMinted(string host)
    {
        Assert.Null(_ca.MintLeaf(host));
        Assert.Null(_ca.ContextFor(host));
    }

    [Fact]
    public void ANameOver253BytesIsNeverMinted()
    {
        string longName = string.Join('.', Enumerable.Repeat(new string('a', 63), 4)) + ".test";
        Assert.Null(_ca.MintLeaf(longName));
    }

    [Fact]
    public void LeavesAreCachedPerHostAndTheTableIsBounded()
    {
        Assert.Same(_ca.ContextFor("a.example.test"), _ca.ContextFor("A.example.test."));
        Assert.NotSame(_ca.ContextFor("a.example.test"), _ca.ContextFor("b.example.test"));
        for (int i = 0; i < JailCertificateAuthority.MaxCachedHosts + 10; i++)
        {
            Assert.NotNull(_ca.ContextFor($"h{i}.example.test"));
        }

        Assert.InRange(_ca.CachedHosts, 1, JailCertificateAuthority.MaxCachedHosts);
    }

    [Fact]
    public void ASuppliedCaIsLoadedAndMintsLeavesThatChainToIt()
    {
        using ECDsa key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=user CA", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using X509Certificate2 cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        string certFile = Path.Combine(_dir, "ca.pem");
        string keyFile = Path.Combine(_dir, "ca.key");
        File.WriteAllText(certFile, cert.ExportCertificatePem());
        File.WriteAllText(keyFile, key.ExportPkcs8PrivateKeyPem());

        Assert.True(JailCertificateAuthority.TryLoad(certFile, keyFile, out JailCertificateAuthority? ca, out string? error), error);
        using (ca)
        {
            using X509Certificate2 leaf = ca!.MintLeaf("api.example.test")!;
            Assert.True(Chains(leaf, cert));
        }
    }

    [Fact]
    public void BrokenCaFilesAreOneLineNamingTheFileAndWhatWasExpected()
    {
        using ECDsa key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using ECDsa otherKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=user CA", key, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using X509Certificate2 ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        using X509Certificate2 notCa = new CertificateRequest("CN=leaf", key, HashAlgorithmName.SHA256).CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        string Write(string name, string text)
        {
            string path = Path.Combine(_dir, name);
            File.WriteAllText(path, text);
            return path;
        }

        string good = Write("ca.pem", ca.ExportCertificatePem());
        string goodKey = Write("ca.key", key.ExportPkcs8PrivateKeyPem());
        string garbage = Write("garbage.pem", "not a certificate\n");
        string leaf = Write("leaf.pem", notCa.ExportCertificatePem());
        string wrongKey = Write("wrong.key", otherKey.ExportPkcs8PrivateKeyPem());
        string missing = Path.Combine(_dir, "missing.pem");

        void Fails(string cert, string keyFile, string expected)
        {
            Assert.False(JailCertificateAuthority.TryLoad(cert, keyFile, out JailCertificateAuthority? loaded, out string? error));
            Assert.Null(loaded);
            Assert.StartsWith(expected, error, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', error!);
        }

        Fails(garbage, goodKey, $"{garbage}: expected a PEM certificate (-----BEGIN CERTIFICATE-----)");
        Fails(leaf, goodKey, $"{leaf}: expected a CA certificate (basicConstraints CA:TRUE)");
        Fails(good, garbage, $"{garbage}: expected an unencrypted PEM private key");
        Fails(good, wrongKey, $"{wrongKey}: expected the private key of {good}");
        Fails(missing, goodKey, $"{missing}: cannot read it");
    }
}
