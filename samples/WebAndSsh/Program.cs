// One Kestrel application serving HTTP and SSH: the same DI container, configuration and logging for both.
//   dotnet run --project samples/WebAndSsh
//   curl http://127.0.0.1:5080/            ssh -p 2222 -i ~/.ssh/id_ed25519 127.0.0.1 visits
using WebAndSsh;

WebApplication app = SampleApp.Build(args);
await app.RunAsync();
