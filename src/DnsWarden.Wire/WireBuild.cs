namespace DnsWarden.Wire;

/// <summary>How this build of the wire readers was made.</summary>
public static class WireBuild
{
    /// <summary>
    /// Whether every offset a reader trusts is checked again at the read (Debug and the "Checked" configuration):
    /// a reader that forgot a length check then throws instead of reading past its input.
    /// </summary>
    public static bool BoundsChecked =>
#if DEBUG || CHECKED
        true;
#else
        false;
#endif
}
