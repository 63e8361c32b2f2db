using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Orleans;
using Orleans.Hosting;
using Orleans.Runtime;
using Orleans.Runtime.Hosting;
using Shoal.Engine.Snapshots;

using Shoal.Grains.Jobs;

namespace Shoal.Grains.Hosting;

/// <summary>Adds indexing jobs to a silo (beside <see cref="ShoalGrainsSiloBuilderExtensions.AddShoalGrains"/>, which hosts call through <c>AddShoal</c>).</summary>
public static class ShoalJobsSiloBuilderExtensions
{
    /// <summary>Name of the grain storage provider that holds job state.</summary>
    public const string StorageName = "shoal-jobs";

    /// <summary>
    /// Registers indexing jobs: the job grains' durable storage (<see cref="SnapshotGrainStorage"/>
    /// over the silo's <see cref="ISnapshotStore"/>, under <c>jobs/state/</c>) and the per-silo
    /// <see cref="JobSupervisor"/> that restarts unfinished jobs. <see cref="ShoalGrainsSiloBuilderExtensions.AddShoalGrains"/>
    /// calls it (every build, an ingest included, runs as a job), so a host calls it only to
    /// configure <see cref="ShoalJobOptions"/>; calling it again registers nothing twice.
    /// Another durable provider (e.g. Redis grain storage) registered afterwards under
    /// <see cref="StorageName"/> replaces the snapshot-store one. <see cref="ShoalJobOptions"/> are
    /// read from the <c>Shoal:Jobs</c> configuration section, then <paramref name="configure"/>.
    /// </summary>
    public static ISiloBuilder AddShoalJobs(this ISiloBuilder builder, Action<ShoalJobOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = builder.Services.AddOptions<ShoalJobOptions>();
        if (!builder.Services.Any(d => d.ServiceType == typeof(JobSupervisor)))
        {
            options.BindConfiguration("Shoal:Jobs");
            builder.Services.AddGrainStorage(StorageName, (sp, _) => new SnapshotGrainStorage(sp.GetRequiredService<ISnapshotStore>()));
            builder.Services.AddSingleton<JobSupervisor>();
            builder.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<JobSupervisor>());
        }
        if (configure is not null) options.Configure(configure);
        return builder;
    }
}
