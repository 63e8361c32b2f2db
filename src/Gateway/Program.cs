using Shoal.Gateway;

if (args is ["hash-key" or "new-key", ..]) return Shoal.Gateway.Auth.ApiKeyTool.Run(args, Console.In, Console.Out, Console.Error);

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
