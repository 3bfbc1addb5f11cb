using System.Net;
using Ssh.Transport;
using Ssh.Transport.AspNetCore;

namespace WebAndSsh;

/// <summary>Builds the sample application; the tests build it too, on ports of their choosing.</summary>
public static class SampleApp
{
    /// <summary>Builds the application from its configuration (appsettings.json, the environment, the command line).</summary>
    /// <param name="args">The command line, e.g. <c>--Ssh:Port=2022</c>.</param>
    /// <returns>The application, not started.</returns>
    public static WebApplication Build(string[] args)
    {
        WebApplicationBuilder builder = WebApplication.CreateBuilder(args);
        var sample = builder.Configuration.GetSection("Ssh").Get<SampleSshSettings>() ?? new SampleSshSettings();

        // Shared by both protocols: HTTP counts visits, SSH reports them.
        builder.Services.AddSingleton<VisitCounter>();
        builder.Services.AddSingleton(sample);
        builder.Services.AddSingleton(_ => new AuthorizedKeysStore(Path.Combine(builder.Environment.ContentRootPath, sample.AuthorizedKeysFile)));

        // <example:hosting>
        // The SSH server: host keys, limits and algorithms from the "Ssh" section, validated at start; one
        // SampleSshHandler per connection, resolved from DI.
        builder.Services.AddSshServer<SampleSshHandler>().BindConfiguration("Ssh");

        // Both endpoints in code (endpoints set here replace the "Urls" setting): HTTP, and SSH on the same server.
        var endpoints = new SampleEndpoints();
        builder.Services.AddSingleton(endpoints);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Loopback, sample.HttpPort, endpoint => endpoints.Http = endpoint);
            kestrel.Listen(IPAddress.Loopback, sample.Port, endpoint => endpoints.Ssh = endpoint.UseSsh());
        });

        WebApplication app = builder.Build();
        // </example:hosting>
        app.MapGet("/", (VisitCounter visits) => $"Hello over HTTP; visit {visits.Increment()}.\n");
        return app;
    }
}

/// <summary>The sample's own settings from the "Ssh" section, beside the server's.</summary>
public sealed class SampleSshSettings
{
    /// <summary>The SSH port on 127.0.0.1; 0 picks a free one.</summary>
    public int Port { get; set; } = 2222;

    /// <summary>The HTTP port on 127.0.0.1; 0 picks a free one.</summary>
    public int HttpPort { get; set; } = 5080;

    /// <summary>The authorized_keys file whose keys may log in, as any user name.</summary>
    public string AuthorizedKeysFile { get; set; } = "authorized_keys";
}

/// <summary>The two endpoints; once the application has started, their <c>IPEndPoint</c> holds the bound port.</summary>
public sealed class SampleEndpoints
{
    /// <summary>The HTTP endpoint.</summary>
    public Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions? Http { get; set; }

    /// <summary>The SSH endpoint.</summary>
    public Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions? Ssh { get; set; }
}

/// <summary>A count shared by the HTTP endpoint and the SSH commands.</summary>
public sealed class VisitCounter
{
    private long _count;

    /// <summary>Counts a visit.</summary>
    /// <returns>The new count.</returns>
    public long Increment() => Interlocked.Increment(ref _count);

    /// <summary>The visits so far.</summary>
    public long Count => Interlocked.Read(ref _count);
}
