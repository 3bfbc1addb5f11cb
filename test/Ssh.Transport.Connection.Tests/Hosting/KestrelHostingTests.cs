using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Ssh.Transport.AspNetCore;
using Ssh.Transport.Connection.Tests.Infrastructure;
using WebAndSsh;

namespace Ssh.Transport.Connection.Tests.Hosting;

/// <summary>
/// The DI-first Kestrel hosting: <c>AddSshServer&lt;THandler&gt;()</c> + <c>UseSsh()</c>, options validated at start,
/// a handler per connection from its own scope, DISCONNECT to every connection at shutdown; and the sample that serves
/// HTTP and SSH from one application.
/// </summary>
[NonParallelizable]
public class KestrelHostingTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);
    private string _directory = null!;

    [SetUp]
    public void SetUp()
    {
        _directory = Peers.NewTempDirectory();

        // The sample's own settings (host key and authorized_keys file names, limits), as `dotnet run` would read them.
        File.Copy(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), Path.Combine(_directory, "appsettings.json"));
    }

    [TearDown]
    public void TearDown()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Test]
    public async Task Sample_ServesHttpAndSsh_FromOneApplication()
    {
        using SshPrivateKey hostKey = SshPrivateKey.Generate(SshHostKeyType.Ed25519);
        using SshPrivateKey userKey = SshPrivateKey.Generate(SshHostKeyType.Ed25519);
        await File.WriteAllTextAsync(Path.Combine(_directory, "ssh_host_ed25519_key"), hostKey.ExportOpenSsh());
        await File.WriteAllTextAsync(Path.Combine(_directory, "authorized_keys"), userKey.PublicKey.ToString() + "\n");

        WebApplication app = SampleApp.Build(["--contentRoot", _directory, "--Ssh:Port=0", "--Ssh:HttpPort=0"]);
        await using (app)
        {
            await app.StartAsync().WaitAsync(s_timeout);
            SampleEndpoints endpoints = app.Services.GetRequiredService<SampleEndpoints>();

            using var http = new HttpClient { BaseAddress = new Uri($"http://{endpoints.Http!.IPEndPoint}"), Timeout = s_timeout };
            Assert.That(await http.GetStringAsync("/"), Is.EqualTo("Hello over HTTP; visit 1.\n"));
            Assert.That(await http.GetStringAsync("/"), Is.EqualTo("Hello over HTTP; visit 2.\n"));

            var settings = new SshClientSettings("127.0.0.1", endpoints.Ssh!.IPEndPoint!.Port)
            {
                UserName = "alice",
                HostKeyVerifier = (key, _) => ValueTask.FromResult(key.Equals(hostKey.PublicKey)),
            };
            settings.PrivateKeys.Add(userKey);
            settings.UseAgent = false;
            await using SshClient client = await SshClient.ConnectAsync(settings).WaitAsync(s_timeout);

            SshCommandResult visits = await client.RunCommandAsync("visits").WaitAsync(s_timeout);
            Assert.That((visits.ExitCode, visits.StandardOutput), Is.EqualTo(((int?)0, "2\n")));
            SshCommandResult whoami = await client.RunCommandAsync("whoami").WaitAsync(s_timeout);
            Assert.That(whoami.StandardOutput, Is.EqualTo("alice\n"));
            SshCommandResult missing = await client.RunCommandAsync("rm -rf /").WaitAsync(s_timeout);
            Assert.Multiple(() =>
            {
                Assert.That(missing.ExitCode, Is.EqualTo(127));
                Assert.That(missing.StandardOutput, Is.Empty);
                Assert.That(missing.StandardError, Is.EqualTo("rm -rf /: command not found\n"));
            });
        }
    }

    [Test]
    public void Doc_ShowsTheSamplesSetUp() =>
        DocExamples.AssertDocShows("docs/connection.md", "hosting", "samples/WebAndSsh/SampleApp.cs");

    [Test]
    public async Task Sample_RefusesAKeyNotInItsAuthorizedKeys()
    {
        using SshPrivateKey hostKey = SshPrivateKey.Generate(SshHostKeyType.Ed25519);
        using SshPrivateKey stranger = SshPrivateKey.Generate(SshHostKeyType.Ed25519);
        await File.WriteAllTextAsync(Path.Combine(_directory, "ssh_host_ed25519_key"), hostKey.ExportOpenSsh());

        WebApplication app = SampleApp.Build(["--contentRoot", _directory, "--Ssh:Port=0", "--Ssh:HttpPort=0"]);
        await using (app)
        {
            await app.StartAsync().WaitAsync(s_timeout);
            int port = app.Services.GetRequiredService<SampleEndpoints>().Ssh!.IPEndPoint!.Port;
            var settings = new SshClientSettings("127.0.0.1", port) { UserName = "mallory", AcceptAnyHostKey = true, UseAgent = false };
            settings.PrivateKeys.Add(stranger);
            var refused = Assert.ThrowsAsync<SshAuthenticationException>(async () => await SshClient.ConnectAsync(settings).WaitAsync(s_timeout));
            Assert.That(refused!.AllowedMethods, Is.EquivalentTo(new[] { "publickey" }));
        }
    }

    [Test]
    public async Task Options_AreValidatedAtStart_WithEveryProblemNamed()
    {
        WebApplication app = BuildHost(options =>
        {
            options.HostKeyFiles.Add(Path.Combine(_directory, "missing_host_key"));
            options.Server.MaxAuthTries = 0;
        });
        await using (app)
        {
            var failure = Assert.ThrowsAsync<OptionsValidationException>(async () => await app.StartAsync().WaitAsync(s_timeout));
            Assert.That(failure!.Failures, Has.Some.Contains("missing_host_key"));
            Assert.That(failure.Failures, Has.Some.Contains("MaxAuthTries"));
        }
    }

    [Test]
    public async Task HostCertificateFiles_PresentedToAClientTrustingTheCa_OtherKeysCertificateStopsTheStart()
    {
        // The host key and its certificate as files beside it (ssh-keygen -s CA -h), as a deployment has them.
        using SshPrivateKey hostKey = SshPrivateKey.Generate(SshHostKeyType.Ed25519);
        using SshPrivateKey otherKey = SshPrivateKey.Generate(SshHostKeyType.Ed25519);
        string ca = Path.Combine(_directory, "ca");
        Peers.RunChecked(Peers.Require("ssh-keygen", "openssh-client"), "-q", "-t", "ed25519", "-N", "", "-f", ca);
        foreach ((string name, SshPrivateKey key) in new[] { ("host_key", hostKey), ("other_key", otherKey) })
        {
            await File.WriteAllTextAsync(Path.Combine(_directory, name), key.ExportOpenSsh());
            await File.WriteAllTextAsync(Path.Combine(_directory, name + ".pub"), key.PublicKey + "\n");
            Peers.RunChecked("ssh-keygen", "-q", "-s", ca, "-I", name, "-h", "-n", "127.0.0.1", Path.Combine(_directory, name + ".pub"));
        }

        WebApplication app = BuildHost(options =>
        {
            options.HostKeyFiles.Add("host_key");
            options.HostCertificateFiles.Add("host_key-cert.pub");
        });
        await using (app)
        {
            await app.StartAsync().WaitAsync(s_timeout);
            int port = SshPort(app);
            string knownHosts = Path.Combine(_directory, "known_hosts");
            await File.WriteAllTextAsync(knownHosts, $"@cert-authority [127.0.0.1]:{port} {await File.ReadAllTextAsync(ca + ".pub")}");
            SshClientSettings settings = PasswordSettings(port);
            settings.AcceptAnyHostKey = false;
            settings.KnownHostsFile = knownHosts;
            await using SshClient client = await SshClient.ConnectAsync(settings).WaitAsync(s_timeout);
            Assert.That(client.Transport.HostKey, Is.EqualTo(SshPublicKey.Parse(await File.ReadAllTextAsync(Path.Combine(_directory, "host_key-cert.pub")))));
        }

        WebApplication wrong = BuildHost(options =>
        {
            options.HostKeyFiles.Add("host_key");
            options.HostCertificateFiles.Add("other_key-cert.pub");
            options.HostCertificateFiles.Add("missing-cert.pub");
        });
        await using (wrong)
        {
            var failure = Assert.ThrowsAsync<OptionsValidationException>(async () => await wrong.StartAsync().WaitAsync(s_timeout));
            Assert.That(failure!.Failures, Has.Some.Contains("which is not one of the HostKeys"));
            Assert.That(failure.Failures, Has.Some.Contains("missing-cert.pub"));
        }
    }

    [Test]
    public async Task Options_WithoutAHostKey_DoNotStart()
    {
        WebApplication app = BuildHost(_ => { });
        await using (app)
        {
            var failure = Assert.ThrowsAsync<OptionsValidationException>(async () => await app.StartAsync().WaitAsync(s_timeout));
            Assert.That(failure!.Message, Does.Contain("No host key"));
        }
    }

    [Test]
    public void UseSsh_WithoutAddSshServer_SaysWhatIsMissing()
    {
        WebApplicationBuilder builder = WebApplication.CreateBuilder();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, endpoint => endpoint.UseSsh()));
        var failure = Assert.Throws<InvalidOperationException>(() => builder.Build());
        Assert.That(failure!.Message, Does.Contain("AddSshServer"));
    }

    /// <summary>Each connection gets its own handler, from its own DI scope, disposed when the connection ends.</summary>
    [Test]
    public async Task Handler_ComesFromAScopePerConnection()
    {
        using SshPrivateKey hostKey = SshPrivateKey.Generate(SshHostKeyType.Ed25519);
        var ledger = new ScopeLedger();
        WebApplication app = BuildHost(options => options.Transport.HostKeys.Add(hostKey), services => services.AddSingleton(ledger).AddScoped<ScopedThing>());
        await using (app)
        {
            await app.StartAsync().WaitAsync(s_timeout);
            int port = SshPort(app);
            for (int i = 0; i < 2; i++)
            {
                await using SshClient client = await SshClient.ConnectAsync(PasswordSettings(port)).WaitAsync(s_timeout);
                SshCommandResult result = await client.RunCommandAsync("scope").WaitAsync(s_timeout);
                Assert.That(result.StandardOutput, Is.EqualTo($"scope {i + 1}\n"));
            }

            await WaitUntil(() => ledger.Disposed == 2);
            Assert.That(ledger.Created, Is.EqualTo(2));
        }
    }

    /// <summary>Stopping the application sends every open connection a DISCONNECT (by application), then Kestrel stops.</summary>
    [Test]
    public async Task Shutdown_DisconnectsEveryOpenConnection()
    {
        using SshPrivateKey hostKey = SshPrivateKey.Generate(SshHostKeyType.Ed25519);
        WebApplication app = BuildHost(options => options.Transport.HostKeys.Add(hostKey));
        await using (app)
        {
            await app.StartAsync().WaitAsync(s_timeout);
            int port = SshPort(app);
            var clients = new List<SshClient>();
            try
            {
                for (int i = 0; i < 3; i++)
                {
                    clients.Add(await SshClient.ConnectAsync(PasswordSettings(port)).WaitAsync(s_timeout));
                }

                // One of them in the middle of a command that would never end on its own.
                SshClientSession running = await clients[0].ExecuteAsync("wait").WaitAsync(s_timeout);
                await app.StopAsync().WaitAsync(s_timeout);

                foreach (SshClient client in clients)
                {
                    SshConnectionClosedEventArgs closed = await client.Transport.Completion.WaitAsync(s_timeout);
                    Assert.Multiple(() =>
                    {
                        Assert.That(closed.ClosedBy, Is.EqualTo(SshInitiator.Remote));
                        Assert.That(closed.Reason, Is.EqualTo(SshDisconnectReason.ByApplication));
                    });
                }
            }
            finally
            {
                foreach (SshClient client in clients)
                {
                    await client.DisposeAsync();
                }
            }
        }
    }

    /// <summary>MaxStartups: an unauthenticated connection above the limit is closed before the SSH banner; an authenticated one does not count.</summary>
    [Test]
    public async Task Admission_ClosesConnectionsAboveMaxStartups_BeforeTheBanner()
    {
        using SshPrivateKey hostKey = SshPrivateKey.Generate(SshHostKeyType.Ed25519);
        WebApplication app = BuildHost(options =>
        {
            options.Transport.HostKeys.Add(hostKey);
            (options.Admission.MaxStartupsBegin, options.Admission.MaxStartupsRate, options.Admission.MaxStartups) = (1, 100, 1);
        });
        await using (app)
        {
            await app.StartAsync().WaitAsync(s_timeout);
            int port = SshPort(app);
            SshServerAdmission admission = app.Services.GetRequiredService<SshServerAdmission>();
            var refusals = new List<SshAdmissionRefusal>();
            admission.Refused += (_, e) => refusals.Add(e.Reason);

            using (System.Net.Sockets.Socket first = await ConnectRawAsync(port))
            {
                Assert.That(await ReadAsync(first), Does.StartWith("SSH-2.0-"), "the first is admitted");
                using System.Net.Sockets.Socket second = await ConnectRawAsync(port);
                Assert.That(await ReadAsync(second), Is.Empty, "closed with nothing sent");
                Assert.That(refusals, Is.EqualTo(new[] { SshAdmissionRefusal.MaxStartups }));
            }

            await WaitUntil(() => admission.ConnectionCount == 0);
            await using SshClient client = await SshClient.ConnectAsync(PasswordSettings(port)).WaitAsync(s_timeout);
            Assert.That(admission.UnauthenticatedCount, Is.Zero, "logged in: no longer a startup");
            using System.Net.Sockets.Socket third = await ConnectRawAsync(port);
            Assert.That(await ReadAsync(third), Does.StartWith("SSH-2.0-"));
        }
    }

    /// <summary>PerSourcePenalties: a failed login earns authfail time; above the minimum the address is refused before the banner.</summary>
    [Test]
    public async Task Admission_RefusesASourceWhoseLoginsFailed()
    {
        using SshPrivateKey hostKey = SshPrivateKey.Generate(SshHostKeyType.Ed25519);
        WebApplication app = BuildHost(options =>
        {
            options.Transport.HostKeys.Add(hostKey);
            options.Admission.PenaltyAuthFail = TimeSpan.FromSeconds(60); // one failure is above the 15 s minimum
        });
        await using (app)
        {
            await app.StartAsync().WaitAsync(s_timeout);
            int port = SshPort(app);
            SshServerAdmission admission = app.Services.GetRequiredService<SshServerAdmission>();
            SshClientSettings wrong = PasswordSettings(port);
            wrong.Password = "wrong";
            Assert.ThrowsAsync<SshAuthenticationException>(async () => await SshClient.ConnectAsync(wrong).WaitAsync(s_timeout));
            await WaitUntil(() => admission.ConnectionCount == 0);

            Assert.That(admission.PenalizedSourceCount, Is.EqualTo(1));
            using System.Net.Sockets.Socket next = await ConnectRawAsync(port);
            Assert.That(await ReadAsync(next), Is.Empty, "127.0.0.1 is penalised");
        }
    }

    /// <summary>LoginGraceTime from accept: a client that trickles its identification line is closed at the deadline.</summary>
    [Test]
    public async Task LoginGraceTime_ClosesATricklingClient()
    {
        using SshPrivateKey hostKey = SshPrivateKey.Generate(SshHostKeyType.Ed25519);
        WebApplication app = BuildHost(options =>
        {
            options.Transport.HostKeys.Add(hostKey);
            options.Server.LoginGraceTime = TimeSpan.FromSeconds(1);
        });
        await using (app)
        {
            await app.StartAsync().WaitAsync(s_timeout);
            SshServerAdmission admission = app.Services.GetRequiredService<SshServerAdmission>();
            using System.Net.Sockets.Socket socket = await ConnectRawAsync(SshPort(app));
            Assert.That(await ReadAsync(socket), Does.StartWith("SSH-2.0-"));
            using var timeout = new CancellationTokenSource(s_timeout);
            bool closed = false;
            foreach (byte b in "SSH-2.0-trickle-trickle-trickle-trickle-trickle"u8.ToArray())
            {
                try
                {
                    await socket.SendAsync(new[] { b }, System.Net.Sockets.SocketFlags.None, timeout.Token);
                    await Task.Delay(100, timeout.Token);
                }
                catch (System.Net.Sockets.SocketException)
                {
                    closed = true;
                    break;
                }

                if (socket.Poll(0, System.Net.Sockets.SelectMode.SelectRead) && socket.Available == 0)
                {
                    closed = true;
                    break;
                }
            }

            Assert.That(closed, Is.True, "closed at the login grace time, before the 4.7 s the line would take");
            await WaitUntil(() => admission.ConnectionCount == 0);
            Assert.That(admission.PenalizedSourceCount, Is.EqualTo(1), "grace-exceeded");
        }
    }

    private static async Task<System.Net.Sockets.Socket> ConnectRawAsync(int port)
    {
        var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port)).WaitAsync(s_timeout);
        return socket;
    }

    /// <summary>What the server sends first: its identification line, or nothing when it closes the connection.</summary>
    private static async Task<string> ReadAsync(System.Net.Sockets.Socket socket)
    {
        var buffer = new byte[256];
        using var timeout = new CancellationTokenSource(s_timeout);
        try
        {
            int read = await socket.ReceiveAsync(buffer, System.Net.Sockets.SocketFlags.None, timeout.Token);
            return System.Text.Encoding.ASCII.GetString(buffer, 0, read);
        }
        catch (System.Net.Sockets.SocketException)
        {
            return ""; // reset
        }
    }

    /// <summary>
    /// AddSshSocketBuffers: Kestrel's socket transport takes its memory from our blocks (64 KiB by default, 1 MiB as
    /// serve has them), and 8 MiB goes there and back through an SSH session unchanged.
    /// </summary>
    [TestCase(null)]
    [TestCase(1024 * 1024)]
    public async Task SocketBuffers_KestrelUsesTheBlockPool_DataRoundTrips(int? blockSize)
    {
        using SshPrivateKey hostKey = SshPrivateKey.Generate(SshHostKeyType.Ed25519);
        WebApplication app = BuildHost(options => options.Transport.HostKeys.Add(hostKey),
            services => _ = blockSize is int size ? services.AddSshSocketBuffers(size) : services.AddSshSocketBuffers());
        await using (app)
        {
            await app.StartAsync().WaitAsync(s_timeout);
            var factory = (SshBlockMemoryPoolFactory)app.Services.GetRequiredService<Microsoft.AspNetCore.Connections.IMemoryPoolFactory<byte>>();
            Assert.That(factory.BlockSize, Is.EqualTo(blockSize ?? 64 * 1024));
            byte[] data = System.Security.Cryptography.RandomNumberGenerator.GetBytes(8 << 20);
            await using SshClient client = await SshClient.ConnectAsync(PasswordSettings(SshPort(app))).WaitAsync(s_timeout);
            await using SshClientSession session = await client.ExecuteAsync("echo").WaitAsync(s_timeout);
            Task<byte[]> echoed = ReadToEndAsync(session.StandardOutput);
            await session.StandardInput.WriteAsync(data).AsTask().WaitAsync(s_timeout);
            await session.StandardInput.CompleteAsync();
            byte[] received = await echoed.WaitAsync(s_timeout);
            SshExitStatus status = await session.WaitForExitAsync().WaitAsync(s_timeout);
            Assert.Multiple(() =>
            {
                Assert.That(received, Has.Length.EqualTo(data.Length));
                Assert.That(received.AsSpan().SequenceEqual(data), Is.True, "the echoed bytes differ");
                Assert.That(status.ExitCode, Is.Zero);
                Assert.That(factory.Created.Sum(pool => pool.BlocksAllocated), Is.GreaterThan(0), "Kestrel never rented from the block pool");
            });
        }
    }

    [TestCase(SshServerServiceCollectionExtensions.MinSocketBlockSize - 1)]
    [TestCase(SshServerServiceCollectionExtensions.MaxSocketBlockSize + 1)]
    public void SocketBuffers_BlockSizeOutOfRange_Throws(int blockSize) =>
        Assert.That(() => new ServiceCollection().AddSshSocketBuffers(blockSize), Throws.InstanceOf<ArgumentOutOfRangeException>());

    private static async Task<byte[]> ReadToEndAsync(System.IO.Pipelines.PipeReader reader)
    {
        using var all = new MemoryStream();
        await reader.CopyToAsync(all);
        return all.ToArray();
    }

    private WebApplication BuildHost(Action<SshServerHostOptions> configure, Action<IServiceCollection>? services = null)
    {
        WebApplicationBuilder builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = _directory });
        builder.Services.AddSshServer<TestHandler>(configure);
        services?.Invoke(builder.Services);
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, endpoint => endpoint.UseSsh()));
        return builder.Build();
    }

    private static int SshPort(WebApplication app)
    {
        var addresses = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features
            .Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses;
        return new Uri(addresses.Single()).Port;
    }

    private static SshClientSettings PasswordSettings(int port) =>
        new("127.0.0.1", port) { UserName = "tester", Password = "secret", AcceptAnyHostKey = true, UseAgent = false };

    private static async Task WaitUntil(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(s_timeout);
        while (!condition())
        {
            await Task.Delay(20, timeout.Token);
        }
    }

    /// <summary>Counts the scoped dependencies of the handlers.</summary>
    public sealed class ScopeLedger
    {
        private int _created;
        private int _disposed;

        public int Created => Volatile.Read(ref _created);

        public int Disposed => Volatile.Read(ref _disposed);

        public int OnCreated() => Interlocked.Increment(ref _created);

        public void OnDisposed() => Interlocked.Increment(ref _disposed);
    }

    public sealed class ScopedThing : IDisposable
    {
        private readonly ScopeLedger _ledger;

        public ScopedThing(ScopeLedger ledger)
        {
            _ledger = ledger;
            Number = ledger.OnCreated();
        }

        public int Number { get; }

        public void Dispose() => _ledger.OnDisposed();
    }

    /// <summary>Password "secret" for anyone; "scope" prints the scoped dependency's number; "wait" runs until cancelled; "echo" sends back its input.</summary>
    public sealed class TestHandler(IServiceProvider services) : SshServerHandler
    {
        public override ValueTask<bool> AuthenticatePasswordAsync(SshAuthenticationContext context, string password, CancellationToken cancellationToken) =>
            ValueTask.FromResult(password == "secret");

        public override async Task RunSessionAsync(SshServerSession session, CancellationToken cancellationToken)
        {
            switch (session.Command)
            {
                case "scope":
                    int number = services.GetService<ScopedThing>()?.Number ?? 0;
                    await session.Output.WriteAsync(System.Text.Encoding.UTF8.GetBytes($"scope {number}\n"), cancellationToken);
                    await session.ExitAsync(0, cancellationToken);
                    break;
                case "wait":
                    await Task.Delay(Timeout.Infinite, cancellationToken);
                    break;
                case "echo":
                    await session.Input.CopyToAsync(session.Output, cancellationToken);
                    await session.ExitAsync(0, cancellationToken);
                    break;
                default:
                    await session.ExitAsync(1, cancellationToken);
                    break;
            }
        }
    }
}
