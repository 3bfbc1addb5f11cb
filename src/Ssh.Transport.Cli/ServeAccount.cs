using System.Diagnostics;

namespace Ssh.Transport.Cli;

/// <summary>
/// The account serve runs commands as: the user the process runs as, with the home directory and login shell of its
/// /etc/passwd line. Every SSH user name lands here: serve does not switch users.
/// </summary>
/// <param name="UserName">The account's name (USER, LOGNAME).</param>
/// <param name="Home">Its home directory (HOME, the working directory of commands).</param>
/// <param name="Shell">Its login shell (SHELL; runs commands with -c and shells with -l).</param>
internal sealed record ServeAccount(string UserName, string Home, string Shell)
{
    /// <summary>sshd's shell for an account without one (_PATH_BSHELL).</summary>
    public const string DefaultShell = "/bin/sh";

    /// <summary>sshd's PATH for users (Debian builds it --with-default-path).</summary>
    public const string DefaultPath = "/usr/local/bin:/usr/bin:/bin:/usr/games";

    /// <summary>sshd's PATH for root (Debian's --with-superuser-path).</summary>
    public const string SuperUserPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    /// <summary>
    /// The current process user's account: its /etc/passwd line (found by the name .NET reports for the effective
    /// user), else HOME and /bin/sh.
    /// </summary>
    public static ServeAccount Current()
    {
        string name = Environment.UserName;
        string? passwd = null;
        try
        {
            passwd = File.ReadAllText("/etc/passwd");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Not a Unix system, or no passwd file: the fallback below.
        }

        return (passwd is null ? null : FromPasswd(passwd, name))
            ?? new ServeAccount(name, Environment.GetEnvironmentVariable("HOME") is { Length: > 0 } home ? home : "/", DefaultShell);
    }

    /// <summary>The account of <paramref name="userName"/>'s line of a passwd file (name:password:uid:gid:gecos:home:shell), or null.</summary>
    internal static ServeAccount? FromPasswd(string passwd, string userName)
    {
        foreach (ReadOnlySpan<char> line in passwd.AsSpan().EnumerateLines())
        {
            string[] fields = line.ToString().Split(':');
            if (fields.Length >= 7 && fields[0] == userName)
            {
                // sshd: an empty shell field means /bin/sh; an empty home, the root directory.
                return new ServeAccount(userName, fields[5].Length == 0 ? "/" : fields[5], fields[6].Length == 0 ? DefaultShell : fields[6]);
            }
        }

        return null;
    }

    /// <summary>True for root (uid 0), whose PATH is sshd's superuser path.</summary>
    public bool IsSuperUser { get; init; } = Environment.IsPrivilegedProcess && !OperatingSystem.IsWindows();

    /// <summary>
    /// How sshd starts a session's program as this account: the login shell with <c>-c COMMAND</c> for a command (a
    /// subsystem's too), or as a login shell (<c>-l</c>) for a shell; in the home directory (the root directory when
    /// the home is missing), with sshd's environment of a login and nothing of serve's own.
    /// </summary>
    /// <param name="command">The command, or null for a login shell.</param>
    /// <remarks>
    /// The session adds SSH_CLIENT, SSH_CONNECTION, SSH_ORIGINAL_COMMAND and the client's accepted variables
    /// (<see cref="Ssh.Transport.Connection.SshServerSession.RunProcessAsync"/>).
    /// </remarks>
    public ProcessStartInfo StartInfo(string? command)
    {
        var start = new ProcessStartInfo(Shell)
        {
            WorkingDirectory = Directory.Exists(Home) ? Home : "/",
            UseShellExecute = false,
        };
        if (command is null)
        {
            // sshd starts a login shell with argv[0] "-sh"; .NET cannot set argv[0], and every common shell takes -l.
            start.ArgumentList.Add("-l");
        }
        else
        {
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add(command);
        }

        IDictionary<string, string?> environment = start.Environment;
        environment.Clear();
        environment["USER"] = UserName;
        environment["LOGNAME"] = UserName;
        environment["HOME"] = Home;
        environment["SHELL"] = Shell;
        environment["PATH"] = IsSuperUser ? SuperUserPath : DefaultPath;
        return start;
    }
}
