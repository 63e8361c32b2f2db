using Shoal.Gateway.WebConsole;
using Shoal.Gateway.Observability;
using Shoal.Gateway.OpenApi;

namespace Shoal.Gateway;

/// <summary>
/// What the gateway offers operators beside the v1 API: OpenTelemetry metrics (<c>/metrics</c>)
/// and traces, the OpenAPI document (<c>/openapi/v1.json</c>) with its reference page
/// (<c>/scalar/v1</c>), the cluster endpoints and the web console (<c>/ui</c>).
/// </summary>
public static class OperatorSurface
{
    /// <summary>Registers telemetry and the OpenAPI document.</summary>
    public static WebApplicationBuilder AddShoalOperatorSurface(this WebApplicationBuilder builder)
    {
        builder.AddShoalObservability();
        builder.Services.AddShoalOpenApi();
        return builder;
    }

    /// <summary>Maps <c>/metrics</c>, the OpenAPI document and reference, the cluster endpoints and the console.</summary>
    public static WebApplication MapShoalOperatorSurface(this WebApplication app)
    {
        app.MapShoalObservability();
        app.MapShoalOpenApi();
        app.MapShoalConsole();
        return app;
    }
}
