using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace DnsWarden.Export;

/// <summary>
/// ClickHouse's HTTP interface (port 8123): <c>INSERT … FORMAT JSONEachRow</c> with the rows as the body, queries
/// with <c>FORMAT JSONEachRow</c> read back line by line, basic authentication. Chosen over the official .NET driver,
/// which asks the server for settings 18.16 does not have and is not trim/AOT-clean (docs/DECISIONS.md).
/// </summary>
public sealed partial class ClickHouseHttp : IClickHouseTransport
{
    private readonly HttpClient _http;
    private readonly AuthenticationHeaderValue? _auth;

    public ClickHouseHttp(ClickHouseEndpoint endpoint, string? user, string? password, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        Endpoint = endpoint;
        _http = new HttpClient(new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(3),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(2),
            UseProxy = false,
        })
        {
            BaseAddress = endpoint.HttpBase,
            Timeout = timeout ?? TimeSpan.FromSeconds(30),
        };
        if (user is not null || password is not null)
        {
            _auth = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes((user ?? "default") + ":" + (password ?? ""))));
        }
    }

    public ClickHouseEndpoint Endpoint { get; }

    public InsertOutcome Insert(string table, ReadOnlyMemory<byte> rows, CancellationToken cancellationToken)
    {
        string sql = $"INSERT INTO {Endpoint.Database}.{table} FORMAT JSONEachRow";
        using var request = new HttpRequestMessage(HttpMethod.Post, "/?query=" + Uri.EscapeDataString(sql))
        {
            Content = new ReadOnlyMemoryContent(rows),
        };
        return Send(request, cancellationToken, out _);
    }

    /// <summary>Runs a statement that returns nothing (CREATE, ALTER). Null when it worked, else the server's or the network's words.</summary>
    public string? Execute(string sql, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/") { Content = new StringContent(sql, Encoding.UTF8) };
        InsertOutcome outcome = Send(request, cancellationToken, out _);
        return outcome.Status == InsertStatus.Stored ? null : outcome.Message;
    }

    /// <summary>Runs a query whose result is text (e.g. <c>FORMAT JSONEachRow</c>) and hands each line to <paramref name="line"/>. Null when it worked.</summary>
    public string? Query(string sql, Action<string> line, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(line);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/") { Content = new StringContent(sql, Encoding.UTF8) };
        HttpResponseMessage? response = null;
        try
        {
            response = _http.Send(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                return Describe(response, ReadBody(response, cancellationToken)).Message;
            }

            using var reader = new StreamReader(response.Content.ReadAsStream(cancellationToken), new UTF8Encoding(false));
            while (reader.ReadLine() is { } l)
            {
                if (l.Length > 0)
                {
                    line(l);
                }
            }

            return null;
        }
        catch (Exception e) when (IsNetwork(e, cancellationToken))
        {
            return Unreachable(e).Message;
        }
        finally
        {
            response?.Dispose();
        }
    }

    public void Dispose() => _http.Dispose();

    private InsertOutcome Send(HttpRequestMessage request, CancellationToken cancellationToken, out string body)
    {
        body = "";
        request.Headers.Authorization = _auth;
        try
        {
            using HttpResponseMessage response = _http.Send(request, cancellationToken);
            body = ReadBody(response, cancellationToken);
            return response.IsSuccessStatusCode ? InsertOutcome.Stored : Describe(response, body);
        }
        catch (Exception e) when (IsNetwork(e, cancellationToken))
        {
            return Unreachable(e);
        }
    }

    private static bool IsNetwork(Exception e, CancellationToken cancellationToken) =>
        e is HttpRequestException or IOException or SocketException || (e is TaskCanceledException && !cancellationToken.IsCancellationRequested);

    private InsertOutcome Unreachable(Exception e)
    {
        string why = e is TaskCanceledException ? "no answer within " + _http.Timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture) + " s" : Innermost(e);
        return new InsertOutcome(InsertStatus.Unreachable, $"{Endpoint} unreachable: {why}");
    }

    private static string Innermost(Exception e)
    {
        while (e.InnerException is not null)
        {
            e = e.InnerException;
        }

        return e.Message;
    }

    private static string ReadBody(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        using var reader = new StreamReader(response.Content.ReadAsStream(cancellationToken), Encoding.UTF8);
        char[] buffer = new char[4096];
        int n = reader.ReadBlock(buffer, 0, buffer.Length);
        return new string(buffer, 0, n);
    }

    /// <summary>The server's error in one line: "Code: 60, e.displayText() = DB::Exception: Table … doesn't exist., e.what() = …" (18.16) or "Code: 60. DB::Exception: … (UNKNOWN_TABLE) (version …)" (current).</summary>
    internal static InsertOutcome Describe(HttpResponseMessage response, string body)
    {
        Match m = ServerError().Match(body);
        int? code = m.Success ? int.Parse(m.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture) : null;
        string text = m.Success ? m.Groups[2].Value : body;
        text = text.Replace("e.displayText() = ", "", StringComparison.Ordinal).Replace("DB::Exception: ", "", StringComparison.Ordinal);
        int what = text.IndexOf(", e.what()", StringComparison.Ordinal);
        if (what >= 0)
        {
            text = text[..what];
        }

        int version = text.IndexOf(" (version ", StringComparison.Ordinal);
        if (version >= 0)
        {
            text = text[..version];
        }

        text = string.Join(' ', text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries)).Trim();
        if (text.Length > 300)
        {
            text = text[..300] + "…";
        }

        string status = string.Create(CultureInfo.InvariantCulture, $"HTTP {(int)response.StatusCode}");
        string message = code is null ? $"{status}: {text}" : string.Create(CultureInfo.InvariantCulture, $"code {code}: {text} ({status})");
        return new InsertOutcome(InsertStatus.Refused, message, code);
    }

    [GeneratedRegex(@"^Code: (\d+)[.,]\s*(.*)$", RegexOptions.Singleline | RegexOptions.CultureInvariant)]
    private static partial Regex ServerError();
}
