using System.Diagnostics;

namespace Ssh.Transport.Tests.HostKeys;

/// <summary>Runs ssh-keygen, openssl and python3 as ground truth; tests that need a missing tool are ignored.</summary>
internal static class ExternalTools
{
    private static readonly Lazy<string?> s_sshKeygen = new(() => Find("ssh-keygen"));
    private static readonly Lazy<string?> s_openssl = new(() => Find("openssl"));
    private static readonly Lazy<string?> s_pythonWithParamiko = new(() => FindPythonWith("import paramiko; assert tuple(map(int, paramiko.__version__.split('.')[:2])) >= (2, 9)"));
    private static readonly Lazy<string?> s_pythonWithBcrypt = new(() => FindPythonWith("import bcrypt; bcrypt.kdf"));

    public static string SshKeygen => s_sshKeygen.Value
        ?? Ignore("ssh-keygen is not installed (Debian/Ubuntu: apt install openssh-client); OpenSSH ground-truth tests skipped.");

    public static string OpenSsl => s_openssl.Value
        ?? Ignore("openssl is not installed (apt install openssl); the PKCS#8 Ed25519 test is skipped.");

    public static string PythonWithParamiko => s_pythonWithParamiko.Value
        ?? Ignore("python3 with paramiko is not installed (apt install python3-paramiko); paramiko interop tests skipped.");

    public static string PythonWithBcrypt => s_pythonWithBcrypt.Value
        ?? Ignore("python3 with the bcrypt package is not installed (apt install python3-bcrypt); the bcrypt_pbkdf differential test is skipped.");

    /// <summary>Runs a tool to completion.</summary>
    public static (int ExitCode, string Output, string Error) Run(string fileName, IEnumerable<string> arguments, string? input = null)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {fileName}.");
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        if (input is not null)
        {
            process.StandardInput.Write(input);
        }

        process.StandardInput.Close();
        if (!process.WaitForExit(30_000))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{fileName} did not finish within 30 s.");
        }

        return (process.ExitCode, output.GetAwaiter().GetResult(), error.GetAwaiter().GetResult());
    }

    /// <summary>Runs a tool and fails the test unless it exits with 0.</summary>
    public static string RunChecked(string fileName, params string[] arguments)
    {
        (int exitCode, string output, string error) = Run(fileName, arguments);
        Assert.That(exitCode, Is.Zero, $"{Path.GetFileName(fileName)} {string.Join(' ', arguments)} failed: {error}");
        return output;
    }

    /// <summary>A file of the repository's test/Ssh.Transport.Tests/TestData folder, found from the test output folder upwards.</summary>
    public static string TestDataFile(string name)
    {
        for (var directory = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); directory is not null; directory = directory.Parent)
        {
            string candidate = Path.Combine(directory.FullName, "test", "Ssh.Transport.Tests", "TestData", name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        Assert.Fail($"TestData/{name} not found above {TestContext.CurrentContext.TestDirectory}.");
        return null!;
    }

    private static string Ignore(string message)
    {
        Assert.Ignore(message);
        return null!;
    }

    private static string? Find(string name)
    {
        foreach (string directory in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
        {
            string candidate = Path.Combine(directory, name);
            if (directory.Length > 0 && File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>A python3 on which <paramref name="check"/> runs cleanly, or null.</summary>
    private static string? FindPythonWith(string check)
    {
        // Debian's own interpreter first: that is where apt puts python3-paramiko and python3-bcrypt (a pyenv shim
        // on PATH may lack them).
        foreach (string? candidate in new[] { "/usr/bin/python3", Find("python3") })
        {
            if (candidate is null || !File.Exists(candidate))
            {
                continue;
            }

            try
            {
                if (Run(candidate, ["-c", check]).ExitCode == 0)
                {
                    return candidate;
                }
            }
            catch (System.ComponentModel.Win32Exception)
            {
            }
        }

        return null;
    }
}
