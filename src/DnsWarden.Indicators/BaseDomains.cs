using System.Globalization;

namespace DnsWarden.Indicators;

/// <summary>
/// Registrable domains (eTLD+1) after the Public Suffix List (https://publicsuffix.org/list/, format and
/// algorithm on https://github.com/publicsuffix/list/wiki/Format). Names and rules are compared in their
/// ASCII (punycode) form, in lower case. Both the ICANN and the private section count, so <c>user.github.io</c>
/// is its own base domain.
/// </summary>
public sealed class BaseDomains
{
    /// <summary>Where Debian's <c>publicsuffix</c> package puts the list.</summary>
    public const string DebianListPath = "/usr/share/publicsuffix/public_suffix_list.dat";

    // Label offsets live on the stack up to this many labels; a 253-byte DNS name has at most 127.
    private const int StackLabelLimit = 128;

    private static readonly Lazy<BaseDomains> s_default = new(LoadDefault);
    private static readonly IdnMapping s_idn = new();

    private readonly HashSet<string>.AlternateLookup<ReadOnlySpan<char>> _rules;
    private readonly HashSet<string>.AlternateLookup<ReadOnlySpan<char>> _wildcards;
    private readonly HashSet<string>.AlternateLookup<ReadOnlySpan<char>> _exceptions;

    private BaseDomains(HashSet<string> rules, HashSet<string> wildcards, HashSet<string> exceptions, string source)
    {
        _rules = rules.GetAlternateLookup<ReadOnlySpan<char>>();
        _wildcards = wildcards.GetAlternateLookup<ReadOnlySpan<char>>();
        _exceptions = exceptions.GetAlternateLookup<ReadOnlySpan<char>>();
        RuleCount = rules.Count + wildcards.Count + exceptions.Count;
        Source = source;
    }

    /// <summary>Debian's list when it is installed, else the small built-in <see cref="FallbackList"/>.</summary>
    public static BaseDomains Default => s_default.Value;

    /// <summary>Where the rules came from: a file path, <c>fallback</c>, or <c>text</c>.</summary>
    public string Source { get; }

    /// <summary>Rules read (normal, wildcard and exception).</summary>
    public int RuleCount { get; }

    /// <summary>
    /// Used when no list is installed: the multi-label suffixes most often met. Every other name falls back to the
    /// list's default rule <c>*</c> (the last label is the suffix), which is right for most of the web.
    /// </summary>
    public const string FallbackList = """
        // Built-in fallback: a few common multi-label public suffixes (ICANN and private sections).
        uk
        co.uk
        org.uk
        ac.uk
        gov.uk
        ltd.uk
        plc.uk
        me.uk
        net.uk
        sch.uk
        nhs.uk
        au
        com.au
        net.au
        org.au
        edu.au
        gov.au
        jp
        co.jp
        ne.jp
        or.jp
        ac.jp
        go.jp
        nz
        co.nz
        org.nz
        net.nz
        za
        co.za
        br
        com.br
        net.br
        org.br
        cn
        com.cn
        net.cn
        org.cn
        gov.cn
        in
        co.in
        net.in
        org.in
        kr
        co.kr
        or.kr
        tw
        com.tw
        hk
        com.hk
        sg
        com.sg
        mx
        com.mx
        tr
        com.tr
        ar
        com.ar
        il
        co.il
        id
        co.id
        my
        com.my
        ua
        com.ua
        ru
        com.ru
        pl
        com.pl
        *.ck
        !www.ck
        github.io
        gitlab.io
        herokuapp.com
        appspot.com
        blogspot.com
        cloudfront.net
        azurewebsites.net
        netlify.app
        vercel.app
        pages.dev
        workers.dev
        s3.amazonaws.com
        """;

    /// <summary>Rules in Public Suffix List format: one per line, <c>//</c> comments, <c>*.</c> wildcards, <c>!</c> exceptions.</summary>
    public static BaseDomains FromList(string publicSuffixListText) => FromList(publicSuffixListText, "text");

    private static BaseDomains FromList(string text, string source)
    {
        ArgumentNullException.ThrowIfNull(text);
        var rules = new HashSet<string>(StringComparer.Ordinal);
        var wildcards = new HashSet<string>(StringComparer.Ordinal);
        var exceptions = new HashSet<string>(StringComparer.Ordinal);
        foreach (ReadOnlySpan<char> raw in text.AsSpan().EnumerateLines())
        {
            ReadOnlySpan<char> line = raw.Trim();
            if (line.IsEmpty || line.StartsWith("//", StringComparison.Ordinal))
            {
                continue;
            }

            // The format: a rule is the line up to the first whitespace.
            int ws = line.IndexOfAny(' ', '\t');
            if (ws >= 0)
            {
                line = line[..ws];
            }

            HashSet<string> target = rules;
            if (line.StartsWith("!", StringComparison.Ordinal))
            {
                target = exceptions;
                line = line[1..];
            }
            else if (line.StartsWith("*.", StringComparison.Ordinal))
            {
                target = wildcards;
                line = line[2..];
            }

            if (ToAsciiLower(line.ToString()) is { Length: > 0 } rule)
            {
                target.Add(rule);
            }
        }

        return new BaseDomains(rules, wildcards, exceptions, source);
    }

    /// <summary>
    /// The registrable domain (public suffix plus one label), lower case, no trailing dot. A name that is itself a
    /// public suffix, or has one label, comes back as it is (normalised); an empty or unconvertible name gives "".
    /// </summary>
    public string GetBaseDomain(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        string n = Normalize(name);
        if (n.Length == 0)
        {
            return n;
        }

        int labelCount = 1;
        foreach (char c in n)
        {
            if (c == '.')
            {
                labelCount++;
            }
        }

        Span<int> starts = labelCount <= StackLabelLimit ? stackalloc int[StackLabelLimit] : new int[labelCount];
        int k = 0;
        starts[k++] = 0;
        for (int i = 0; i < n.Length; i++)
        {
            if (n[i] == '.')
            {
                starts[k++] = i + 1;
            }
        }

        int suffixAt = FindPublicSuffix(n, starts[..k]);
        return suffixAt == 0 ? n : n[starts[suffixAt - 1]..];
    }

    // Index of the first label of the public suffix (the prevailing rule), per the list's algorithm.
    private int FindPublicSuffix(string n, ReadOnlySpan<int> starts)
    {
        int k = starts.Length;

        // An exception rule prevails over any other; its suffix is the rule minus its leftmost label.
        for (int i = 0; i < k; i++)
        {
            if (_exceptions.Contains(n.AsSpan(starts[i])))
            {
                return Math.Min(i + 1, k - 1);
            }
        }

        // Otherwise the longest matching rule; left to right visits the longest first.
        for (int i = 0; i < k; i++)
        {
            if (_rules.Contains(n.AsSpan(starts[i])) || (i + 1 < k && _wildcards.Contains(n.AsSpan(starts[i + 1]))))
            {
                return i;
            }
        }

        // The implicit rule "*": the last label.
        return k - 1;
    }

    private static string Normalize(string name)
    {
        string n = name.EndsWith('.') ? name[..^1] : name;
        return ToAsciiLower(n) ?? "";
    }

    private static string? ToAsciiLower(string s)
    {
        if (System.Text.Ascii.IsValid(s))
        {
            return s.ToLowerInvariant();
        }

        try
        {
            return s_idn.GetAscii(s).ToLowerInvariant();
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    private static BaseDomains LoadDefault()
    {
        try
        {
            if (File.Exists(DebianListPath))
            {
                BaseDomains list = FromList(File.ReadAllText(DebianListPath), DebianListPath);
                if (list.RuleCount > 0)
                {
                    return list;
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return Fallback;
    }

    /// <summary>The built-in fallback list alone (what <see cref="Default"/> gives when no list is installed).</summary>
    public static BaseDomains Fallback { get; } = FromList(FallbackList, "fallback");
}
