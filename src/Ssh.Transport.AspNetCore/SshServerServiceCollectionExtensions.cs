using System.Diagnostics.CodeAnalysis;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Ssh.Transport.Connection;

namespace Ssh.Transport.AspNetCore;

/// <summary>Registers an SSH server for Kestrel endpoints that call <see cref="SshListenOptionsExtensions.UseSsh(Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions)"/>.</summary>
public static class SshServerServiceCollectionExtensions
{
    /// <summary>The smallest block <see cref="AddSshSocketBuffers"/> takes: Kestrel's own.</summary>
    public const int MinSocketBlockSize = 4 * 1024;

    /// <summary>The largest block <see cref="AddSshSocketBuffers"/> takes.</summary>
    public const int MaxSocketBlockSize = 4 * 1024 * 1024;

    /// <summary>
    /// Registers the SSH server with <typeparamref name="THandler"/> as the application (one instance per connection, in
    /// a DI scope of its own), its <see cref="SshServerAdmission"/> (a singleton, from <see cref="SshServerHostOptions.Admission"/>)
    /// and <see cref="SshServerHostOptions"/> validated when the host starts.
    /// </summary>
    /// <typeparam name="THandler">The application: authentication decisions, sessions, forwarding.</typeparam>
    /// <param name="services">The services.</param>
    /// <param name="configure">Sets the options in code; configuration bound through the returned builder applies after it.</param>
    /// <returns>The options builder, to bind configuration (<c>.BindConfiguration("Ssh")</c>) or add validation.</returns>
    public static OptionsBuilder<SshServerHostOptions> AddSshServer<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] THandler>(this IServiceCollection services, Action<SshServerHostOptions>? configure = null)
        where THandler : SshServerHandler
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddScoped<SshServerHandler, THandler>();
        services.TryAddSingleton<SshServerConnectionHandler>();
        services.TryAddSingleton(static provider => new SshServerAdmission(provider.GetRequiredService<IOptions<SshServerHostOptions>>().Value.Admission));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPostConfigureOptions<SshServerHostOptions>, SshServerHostOptionsSetup>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SshServerHostOptions>, SshServerHostOptionsValidator>());
        OptionsBuilder<SshServerHostOptions> builder = services.AddOptions<SshServerHostOptions>();
        if (configure is not null)
        {
            builder.Configure(configure);
        }

        return builder.ValidateOnStart();
    }

    /// <summary>
    /// Gives Kestrel's socket transport a memory pool of <paramref name="blockSize"/> blocks (default 64 KiB) instead of
    /// its 4 KiB ones, for every endpoint of the host: a socket read then takes up to a block, and a whole SSH packet
    /// (32 KiB by default) usually lies in one block, so the packet reader needs no gathering copy. Measured in
    /// docs/performance.md; worth it for hosts that move bulk data over SSH. Call it after
    /// <c>UseKestrel</c>/<c>UseKestrelCore</c> has registered its services.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="blockSize">
    /// The block size, from <see cref="MinSocketBlockSize"/> to <see cref="MaxSocketBlockSize"/>. 1 MiB blocks hold a
    /// batch of 32 KiB packets side by side, whose hmac-sha2-256-etm tags are then checked sixteen at a time (as
    /// <c>ssh-transport serve</c> does), at the cost of up to a block per direction for each connection with data in flight.
    /// </param>
    /// <returns><paramref name="services"/>.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="blockSize"/> is out of range.</exception>
    /// <remarks>
    /// A connection holds a block only while received or unsent data waits in its pipes (Kestrel waits for data before
    /// it rents a receive buffer), so idle connections cost nothing more; free blocks are kept for reuse up to 16 MiB.
    /// </remarks>
    public static IServiceCollection AddSshSocketBuffers(this IServiceCollection services, int blockSize = SshBlockMemoryPool.DefaultBlockSize)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentOutOfRangeException.ThrowIfLessThan(blockSize, MinSocketBlockSize);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(blockSize, MaxSocketBlockSize);
        services.RemoveAll<IMemoryPoolFactory<byte>>();
        services.AddSingleton<IMemoryPoolFactory<byte>>(new SshBlockMemoryPoolFactory(blockSize));
        return services;
    }
}

/// <summary>Loads the host key files and gives the transport the host's logging, once per options instance.</summary>
internal sealed class SshServerHostOptionsSetup(ILoggerFactory loggerFactory, IHostEnvironment environment) : IPostConfigureOptions<SshServerHostOptions>
{
    public void PostConfigure(string? name, SshServerHostOptions options)
    {
        foreach (string file in options.HostKeyFiles)
        {
            // Relative to the content root, as Kestrel's certificate paths are.
            string path = Path.Combine(environment.ContentRootPath, file);
            // Failures surface as OptionsValidationException at start (see the validator): a server without its host
            // key must not start.
            try
            {
                options.Transport.HostKeys.Add(SshPrivateKey.Load(path, options.HostKeyPassphrase));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or SshProtocolException or System.Security.Cryptography.CryptographicException)
            {
                options.HostKeyErrors.Add($"host key file '{path}': {e.Message}");
            }
        }

        foreach (string file in options.HostCertificateFiles)
        {
            // Whether it certifies one of the host keys is the transport options' validation, at start.
            string path = Path.Combine(environment.ContentRootPath, file);
            try
            {
                options.Transport.HostCertificates.Add(SshPublicKey.Parse(File.ReadAllText(path)));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or NotSupportedException)
            {
                options.HostKeyErrors.Add($"host certificate file '{path}': {e.Message}");
            }
        }

        options.Transport.LoggerFactory ??= loggerFactory;
        options.Server.LoggerFactory ??= loggerFactory;
    }
}

/// <summary>Validates the options when the host starts (ValidateOnStart), with every problem in one message.</summary>
internal sealed class SshServerHostOptionsValidator : IValidateOptions<SshServerHostOptions>
{
    public ValidateOptionsResult Validate(string? name, SshServerHostOptions options)
    {
        var failures = new List<string>(options.HostKeyErrors);
        if (options.Transport.HostKeys.Count == 0 && options.HostKeyErrors.Count == 0)
        {
            failures.Add("No host key: add one to Transport.HostKeys or a file to HostKeyFiles.");
        }

        Check(failures, options.Transport.Validate);
        Check(failures, options.Server.Validate);
        Check(failures, options.Admission.Validate);
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void Check(List<string> failures, Action validate)
    {
        try
        {
            validate();
        }
        catch (ArgumentException e)
        {
            failures.Add(e.Message);
        }
        catch (InvalidOperationException e)
        {
            failures.Add(e.Message);
        }
    }
}
