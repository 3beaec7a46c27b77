namespace DnsWarden.Policy;

/// <summary>A reader of one kind of policy file over its prepared bytes: the value, or the first problem it met.</summary>
internal interface IPolicyFileReader<T>
    where T : class
{
    public PolicyError? Error { get; }

    public bool TryRead(out T? value);
}
