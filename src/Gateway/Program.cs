using Shoal.Gateway;

WebApplication app;
try
{
    app = GatewayHost.Build(args);
}
catch (ArgumentException e)
{
    await Console.Error.WriteLineAsync($"shoal gateway: {e.Message}");
    return 2;
}
await app.RunAsync();
return 0;
