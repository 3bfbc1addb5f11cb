namespace Ssh.Transport;

/// <summary>
/// SSH message numbers (RFC 4250 §4.1) and helpers for naming them.
/// </summary>
public static class SshMessageNumber
{
#pragma warning disable CS1591 // The constants are the RFC's names: SSH_MSG_X.
    public const byte Disconnect = 1;
    public const byte Ignore = 2;
    public const byte Unimplemented = 3;
    public const byte Debug = 4;
    public const byte ServiceRequest = 5;
    public const byte ServiceAccept = 6;
    public const byte ExtInfo = 7;
    public const byte NewCompress = 8;
    public const byte KexInit = 20;
    public const byte NewKeys = 21;
    public const byte KexDhInit = 30;
    public const byte KexDhReply = 31;
    public const byte KexDhGexRequestOld = 30;
    public const byte KexDhGexGroup = 31;
    public const byte KexDhGexInit = 32;
    public const byte KexDhGexReply = 33;
    public const byte KexDhGexRequest = 34;
    public const byte UserAuthRequest = 50;
    public const byte UserAuthFailure = 51;
    public const byte UserAuthSuccess = 52;
    public const byte UserAuthBanner = 53;
    public const byte UserAuthInfoRequest = 60;
    public const byte UserAuthInfoResponse = 61;
    public const byte GlobalRequest = 80;
    public const byte RequestSuccess = 81;
    public const byte RequestFailure = 82;
    public const byte ChannelOpen = 90;
    public const byte ChannelOpenConfirmation = 91;
    public const byte ChannelOpenFailure = 92;
    public const byte ChannelWindowAdjust = 93;
    public const byte ChannelData = 94;
    public const byte ChannelExtendedData = 95;
    public const byte ChannelEof = 96;
    public const byte ChannelClose = 97;
    public const byte ChannelRequest = 98;
    public const byte ChannelSuccess = 99;
    public const byte ChannelFailure = 100;

    /// <summary>SSH2_MSG_PING (OpenSSH PROTOCOL §1.8, "ping@openssh.com"): string data.</summary>
    public const byte Ping = 192;

    /// <summary>SSH2_MSG_PONG: the data of the PING it answers.</summary>
    public const byte Pong = 193;
#pragma warning restore CS1591

    /// <summary>
    /// True for the transport layer's generic messages (1-19), which RFC 4253 §7.1 allows during key exchange.
    /// </summary>
    /// <param name="messageNumber">The message number.</param>
    public static bool IsTransportGeneric(byte messageNumber) => messageNumber is >= 1 and <= 19;

    /// <summary>
    /// True for algorithm negotiation and key-exchange-method messages (20-49, RFC 4251 §7).
    /// </summary>
    /// <param name="messageNumber">The message number.</param>
    public static bool IsKeyExchange(byte messageNumber) => messageNumber is >= 20 and <= 49;

    /// <summary>
    /// The RFC name of a message number without its SSH_MSG_ prefix, for logs; key-exchange-method numbers (30-49)
    /// are shared between methods and named generically.
    /// </summary>
    /// <param name="messageNumber">The message number.</param>
    /// <returns>A constant string; no allocation.</returns>
    public static string GetName(byte messageNumber) => messageNumber switch
    {
        Disconnect => "DISCONNECT",
        Ignore => "IGNORE",
        Unimplemented => "UNIMPLEMENTED",
        Debug => "DEBUG",
        ServiceRequest => "SERVICE_REQUEST",
        ServiceAccept => "SERVICE_ACCEPT",
        ExtInfo => "EXT_INFO",
        NewCompress => "NEWCOMPRESS",
        KexInit => "KEXINIT",
        NewKeys => "NEWKEYS",
        >= 30 and <= 49 => "KEX_METHOD",
        UserAuthRequest => "USERAUTH_REQUEST",
        UserAuthFailure => "USERAUTH_FAILURE",
        UserAuthSuccess => "USERAUTH_SUCCESS",
        UserAuthBanner => "USERAUTH_BANNER",
        >= 60 and <= 79 => "USERAUTH_METHOD",
        GlobalRequest => "GLOBAL_REQUEST",
        RequestSuccess => "REQUEST_SUCCESS",
        RequestFailure => "REQUEST_FAILURE",
        ChannelOpen => "CHANNEL_OPEN",
        ChannelOpenConfirmation => "CHANNEL_OPEN_CONFIRMATION",
        ChannelOpenFailure => "CHANNEL_OPEN_FAILURE",
        ChannelWindowAdjust => "CHANNEL_WINDOW_ADJUST",
        ChannelData => "CHANNEL_DATA",
        ChannelExtendedData => "CHANNEL_EXTENDED_DATA",
        ChannelEof => "CHANNEL_EOF",
        ChannelClose => "CHANNEL_CLOSE",
        ChannelRequest => "CHANNEL_REQUEST",
        ChannelSuccess => "CHANNEL_SUCCESS",
        ChannelFailure => "CHANNEL_FAILURE",
        Ping => "PING",
        Pong => "PONG",
        _ => "UNKNOWN",
    };
}
