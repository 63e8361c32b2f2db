using System.Net.Sockets;
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
try
{
    await app.RunAsync();
}
catch (IOException e) when (e.InnerException is SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse } || e.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
{
    await Console.Error.WriteLineAsync($"shoal gateway: cannot listen: {e.Message} Another process (a second gateway?) holds the HTTP port; pass --urls http://127.0.0.1:<port>.");
    return 2;
}
return 0;
