namespace DnsWarden.Wire.Tests.Tls;

internal static class TlsTestVectors
{
    /// <summary>
    /// The ClientHello carried in the CRYPTO frame of RFC 9001 Appendix A.2 (and RFC 9369 Appendix A.2): the
    /// frame header 06 00 40f1 stripped, 241 bytes. SNI "example.com", ALPN "alpn", TLS 1.3, 11 extensions
    /// including quic_transport_parameters.
    /// </summary>
    public const string Rfc9001ClientHelloHex =
        "010000ed0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e86804fe3a47" +
        "f06a2b69484c00000413011302010000c000000010000e00000b6578616d706c" +
        "652e636f6dff01000100000a00080006001d0017001800100007000504616c70" +
        "6e000500050100000000003300260024001d00209370b2c9caa47fbabaf4559f" +
        "edba753de171fa71f50f1ce15d43e994ec74d748002b0003020304000d001000" +
        "0e0403050306030203080408050806002d00020101001c000240010039003204" +
        "08ffffffffffffffff05048000ffff07048000ffff0801100104800075300901" +
        "100f088394c8f03e51570806048000ffff";

    public static byte[] Rfc9001ClientHello => Convert.FromHexString(Rfc9001ClientHelloHex);
}
