using Ssh.Transport.Connection;

namespace Ssh.Transport.AspNetCore;

/// <summary>
/// Settings of the SSH server that <c>services.AddSshServer&lt;THandler&gt;()</c>
/// registers: the transport's (host keys, algorithms, limits) and the layers' above it (authentication, channels).
/// Bind it from configuration or set it in code; it is validated when the host starts.
/// </summary>
public sealed class SshServerHostOptions
{
    /// <summary>Transport settings: host keys, algorithms, rekey limits, handshake timeout.</summary>
    public SshServerOptions Transport { get; } = new();

    /// <summary>Authentication and connection-protocol settings.</summary>
    public SshServerSettings Server { get; } = new();

    /// <summary>
    /// Pre-authentication limits, with OpenSSH's defaults: MaxStartups 10:30:100, PerSourcePenalties, and a total
    /// connection cap (off). Read once, when the server's <see cref="SshServerAdmission"/> is created (a DI singleton,
    /// which an application may resolve to watch its <see cref="SshServerAdmission.Refused"/> event).
    /// </summary>
    public SshServerAdmissionOptions Admission { get; } = new();

    /// <summary>
    /// Host key files (OpenSSH or PEM private keys; a relative path is relative to the content root) loaded into <see cref="SshServerOptions.HostKeys"/> when the options
    /// are first used; a file that cannot be read stops the host from starting.
    /// </summary>
    public IList<string> HostKeyFiles { get; } = [];

    /// <summary>
    /// OpenSSH host certificate files (<c>ssh-keygen -s CA -h</c>, the "-cert.pub" files; a relative path is relative to
    /// the content root) loaded into <see cref="SshServerOptions.HostCertificates"/> beside the host keys; each must be
    /// a host certificate of one of the host keys, or the host does not start.
    /// </summary>
    public IList<string> HostCertificateFiles { get; } = [];

    /// <summary>The passphrase of encrypted <see cref="HostKeyFiles"/>, if any.</summary>
    public string? HostKeyPassphrase { get; set; }

    /// <summary>Why host key files could not be loaded; reported by validation at start.</summary>
    internal List<string> HostKeyErrors { get; } = [];
}
