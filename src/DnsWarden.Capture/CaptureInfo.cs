namespace DnsWarden.Capture;

internal static class CaptureInfo
{
    public const int DefaultSnapLength = 262144;
}
