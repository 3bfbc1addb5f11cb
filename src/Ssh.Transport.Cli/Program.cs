return await Ssh.Transport.Cli.CliMain.RunAsync(args).ConfigureAwait(false);
