using Shoal.Gateway;

WebApplication app;
try
{
    app = GatewayHost.Build(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"shoal gateway: {e.Message}");
    return 2;
}
await app.RunAsync();
return 0;
