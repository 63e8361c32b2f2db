using k8s;
using k8s.Models;

namespace Shoal.Deploy.Tests;

/// <summary>
/// Schema and policy checks on every object every kustomization renders (kubectl kustomize, then
/// KubernetesClient's model types, deserialized strictly so an unknown kind or field fails).
/// </summary>
public sealed class ManifestTests
{
    public static TheoryData<string> Kustomizations() => new(Manifests.Kustomizations);

    [Theory]
    [MemberData(nameof(Kustomizations))]
    public void Every_object_is_a_known_kind_with_known_fields(string kustomization)
    {
        var objects = Manifests.Load(kustomization);
        Assert.NotEmpty(objects);
        foreach (var o in objects)
        {
            var meta = Assert.IsAssignableFrom<IKubernetesObject<V1ObjectMeta>>(o);
            Assert.False(string.IsNullOrEmpty(meta.Metadata?.Name), $"{o.GetType().Name} without a name in {kustomization}");
            if (o is not V1Namespace and not V1PersistentVolume)
                Assert.True(meta.Metadata!.NamespaceProperty == "shoal", $"{meta.Kind}/{meta.Metadata.Name} in {kustomization} is not in namespace shoal");
        }
    }

    [Fact]
    public void A_misspelt_field_fails_strict_deserialization()
    {
        // The same loader as above, on a Deployment whose container says "imagee": strictness is real.
        string yaml = """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: x}
            spec:
              selector: {matchLabels: {a: b}}
              template:
                metadata: {labels: {a: b}}
                spec:
                  containers: [{name: c, imagee: shoal-silo}]
            """;
        Assert.ThrowsAny<Exception>(() => k8s.KubernetesYaml.LoadAllFromString(yaml, typeMap: null, strict: true));
        Assert.ThrowsAny<Exception>(() => k8s.KubernetesYaml.LoadAllFromString("apiVersion: v1\nkind: Silo\nmetadata: {name: x}\n", typeMap: null, strict: true));
    }

    [Theory]
    [MemberData(nameof(Kustomizations))]
    public void Every_container_has_probes_resources_a_pinned_image_and_runs_as_non_root(string kustomization)
    {
        var problems = new List<string>();
        var templates = Manifests.PodTemplates(Manifests.Load(kustomization)).ToList();
        Assert.NotEmpty(templates);
        foreach (var (owner, template) in templates)
        {
            var pod = template.Spec;
            foreach (var c in pod.Containers.Concat(pod.InitContainers ?? []))
            {
                string where = $"{kustomization}: {owner} container {c.Name}";
                // A Job's container runs to completion: readiness and liveness probes would only restart or unready a pod meant to end.
                bool job = owner.StartsWith("Job/", StringComparison.Ordinal);
                if (!job && (c.ReadinessProbe is null || c.LivenessProbe is null)) problems.Add($"{where}: readiness and liveness probes are required");
                foreach (var resource in new[] { "cpu", "memory" })
                {
                    if (c.Resources?.Requests?.ContainsKey(resource) != true) problems.Add($"{where}: no {resource} request");
                    if (c.Resources?.Limits?.ContainsKey(resource) != true) problems.Add($"{where}: no {resource} limit");
                }
                string image = c.Image ?? "";
                string lastSegment = image.Split('/')[^1];
                if (!lastSegment.Contains(':', StringComparison.Ordinal) || lastSegment.EndsWith(":latest", StringComparison.Ordinal))
                    problems.Add($"{where}: image '{image}' has no pinned tag");
                bool nonRoot = (c.SecurityContext?.RunAsNonRoot ?? pod.SecurityContext?.RunAsNonRoot) == true;
                long? user = c.SecurityContext?.RunAsUser ?? pod.SecurityContext?.RunAsUser;
                if (!nonRoot || user is null or 0) problems.Add($"{where}: must run as a non-root user (runAsNonRoot and a non-zero runAsUser)");
                if (c.SecurityContext?.ReadOnlyRootFilesystem != true) problems.Add($"{where}: root filesystem must be read-only");
                if (c.SecurityContext?.AllowPrivilegeEscalation != false) problems.Add($"{where}: allowPrivilegeEscalation must be false");
                if (c.SecurityContext?.Capabilities?.Drop?.Contains("ALL") != true) problems.Add($"{where}: capabilities must drop ALL");
                foreach (var probe in new[] { c.ReadinessProbe, c.LivenessProbe, c.StartupProbe })
                {
                    if (probe?.HttpGet is { } get && !get.Path.StartsWith("/health/", StringComparison.Ordinal))
                        problems.Add($"{where}: HTTP probe on {get.Path}, expected /health/ready or /health/live");
                }
                if (SettingsCheck.BinaryOf(image) is "silo" or "gateway")
                {
                    if (c.ReadinessProbe?.HttpGet?.Path != "/health/ready") problems.Add($"{where}: readiness must probe /health/ready");
                    if (c.LivenessProbe?.HttpGet?.Path != "/health/live") problems.Add($"{where}: liveness must probe /health/live");
                }
            }
        }
        Assert.True(problems.Count == 0, string.Join('\n', problems));
    }

    [Theory]
    [MemberData(nameof(Kustomizations))]
    public void Every_setting_in_the_manifests_is_one_the_binaries_read(string kustomization)
    {
        var problems = new List<string>();
        int checkedContainers = 0;
        foreach (var (owner, template) in Manifests.PodTemplates(Manifests.Load(kustomization)))
        {
            foreach (var c in template.Spec.Containers)
            {
                if (SettingsCheck.BinaryOf(c.Image) is null) continue;
                checkedContainers++;
                problems.AddRange(SettingsCheck.Problems(c).Select(p => $"{kustomization}: {owner} container {c.Name}: {p}"));
            }
        }
        Assert.True(checkedContainers > 0, $"{kustomization} has no Shoal container");
        Assert.True(problems.Count == 0, string.Join('\n', problems));
    }

    private static V1EnvVar Env(string name, string value) => new() { Name = name, Value = value };

    [Fact]
    public void A_misspelt_setting_is_caught_for_each_binary()
    {
        var silo = new V1Container { Name = "silo", Image = "localhost/shoal-silo:0.1.0", Args = ["--urls", "http://0.0.0.0:8080"], Env = [Env("Shoal__KeepVersion", "3")] };
        Assert.Contains(SettingsCheck.Problems(silo), p => p.Contains("Shoal__KeepVersion", StringComparison.Ordinal));
        silo = new V1Container { Name = "silo", Image = "localhost/shoal-silo:0.1.0", Args = ["--SiloPrt", "11111"] };
        Assert.Contains(SettingsCheck.Problems(silo), p => p.Contains("SiloPrt", StringComparison.Ordinal));
        silo = new V1Container { Name = "silo", Image = "localhost/shoal-silo:0.1.0", Env = [Env("SiloPort", "eleven")] };
        Assert.Contains(SettingsCheck.Problems(silo), p => p.Contains("SiloPort", StringComparison.Ordinal));
        var gateway = new V1Container { Name = "gateway", Image = "localhost/shoal-gateway:0.1.0", Args = ["--Mod", "client"] };
        Assert.Contains(SettingsCheck.Problems(gateway), p => p.Contains("--Mod", StringComparison.Ordinal));
        gateway = new V1Container { Name = "gateway", Image = "localhost/shoal-gateway:0.1.0", Env = [Env("Rediss", "redis:6379")] };
        Assert.Contains(SettingsCheck.Problems(gateway), p => p.Contains("Rediss", StringComparison.Ordinal));
        gateway = new V1Container { Name = "gateway", Image = "localhost/shoal-gateway:0.1.0", Env = [Env("Shoal__Auth__Keys__0__Scope", "admin"), Env("Shoal__Limits__RequestPerSecond", "5")] };
        Assert.Equal(2, SettingsCheck.Problems(gateway).Count(p => p.Contains("Shoal__Auth__Keys__0__Scope", StringComparison.Ordinal) || p.Contains("RequestPerSecond", StringComparison.Ordinal)));
        gateway = new V1Container { Name = "gateway", Image = "localhost/shoal-gateway:0.1.0", Env = [Env("Shoal__Auth__Keys__0__Scopes", "admin"), Env("Shoal__Limits__RequestsPerSecond", "5")] };
        Assert.Empty(SettingsCheck.Problems(gateway));
        var cli = new V1Container { Name = "shoal", Image = "localhost/shoal-cli:0.1.0", Args = ["jobs", "submit", "--index", "x", "--sourc", "/corpora/a.jsonl"] };
        Assert.NotEmpty(SettingsCheck.Problems(cli));
        cli = new V1Container { Name = "shoal", Image = "localhost/shoal-cli:0.1.0", Args = ["loadtest", "--index", "x", "--queries", "q.jsonl"], Env = [Env("SHOAL_ULR", "http://g")] };
        Assert.Contains(SettingsCheck.Problems(cli), p => p.Contains("SHOAL_ULR", StringComparison.Ordinal));
        // And the well-formed ones pass.
        Assert.Empty(SettingsCheck.Problems(new V1Container { Name = "shoal", Image = "localhost/shoal-cli:0.1.0", Args = ["jobs", "submit", "--index", "x", "--source", "/corpora/a.jsonl"] }));
        Assert.Empty(SettingsCheck.Problems(new V1Container { Name = "silo", Image = "localhost/shoal-silo:0.1.0", Args = ["--SiloPort", "11111"], Env = [Env("Shoal__KeepVersions", "3")] }));
    }

    [Fact]
    public void Silos_have_the_RBAC_Orleans_Kubernetes_hosting_needs_and_nothing_else()
    {
        var objects = Manifests.Load("deploy/k8s/overlays/azure");
        var role = Assert.Single(objects.OfType<V1Role>());
        var rule = Assert.Single(role.Rules);
        Assert.Equal([""], rule.ApiGroups);
        Assert.Equal(["pods"], rule.Resources);
        Assert.Equal(["get", "list", "patch", "watch"], rule.Verbs.Order(StringComparer.Ordinal));
        var binding = Assert.Single(objects.OfType<V1RoleBinding>());
        Assert.Equal(role.Metadata.Name, binding.RoleRef.Name);
        var siloAccount = Assert.Single(binding.Subjects).Name;
        foreach (var (owner, template) in Manifests.PodTemplates(objects))
        {
            bool silo = template.Metadata.Labels["shoal/role"] == "silo";
            Assert.True(silo == (template.Spec.ServiceAccountName == siloAccount), $"{owner}: only silos use the account bound to the pod-watching role");
            if (!silo)
            {
                var account = objects.OfType<V1ServiceAccount>().Single(a => a.Metadata.Name == template.Spec.ServiceAccountName);
                Assert.False(account.AutomountServiceAccountToken ?? true, $"{owner}: a pod that does not use the API gets no token");
            }
        }
    }

    [Theory]
    [InlineData("deploy/k8s/overlays/local")]
    [InlineData("deploy/k8s/overlays/azure")]
    [InlineData("deploy/k8s/overlays/local-encoders")]
    public void Silo_pools_have_disruption_budgets_anti_affinity_and_a_hand_over_grace_period(string kustomization)
    {
        var objects = Manifests.Load(kustomization);
        var budgets = objects.OfType<V1PodDisruptionBudget>().ToList();
        foreach (var set in objects.OfType<V1StatefulSet>())
        {
            var labels = set.Spec.Template.Metadata.Labels;
            Assert.Contains(budgets, b => b.Spec.Selector.MatchLabels.All(kv => labels.TryGetValue(kv.Key, out var v) && v == kv.Value));
            var anti = set.Spec.Template.Spec.Affinity?.PodAntiAffinity;
            Assert.NotNull(anti);
            Assert.True((anti.RequiredDuringSchedulingIgnoredDuringExecution?.Count ?? 0) + (anti.PreferredDuringSchedulingIgnoredDuringExecution?.Count ?? 0) > 0);
            // The silo gets ShutdownTimeout to hand over; the kubelet must wait longer than that.
            var env = set.Spec.Template.Spec.Containers[0].Env;
            var shutdown = TimeSpan.Parse(env.Single(e => e.Name == "ShutdownTimeout").Value, System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(set.Spec.Template.Spec.TerminationGracePeriodSeconds > shutdown.TotalSeconds, $"{set.Metadata.Name}: grace period must exceed ShutdownTimeout");
            // The drain (moving replicas away) runs inside the host's shutdown; it must leave Orleans
            // time to deactivate grains and leave the membership before ShutdownTimeout ends.
            var drain = env.SingleOrDefault(e => e.Name == "Shoal__DrainTimeout") is { } d
                ? TimeSpan.Parse(d.Value, System.Globalization.CultureInfo.InvariantCulture)
                : new Shoal.Grains.Hosting.ShoalOptions().DrainTimeout;
            Assert.True(drain < shutdown, $"{set.Metadata.Name}: Shoal__DrainTimeout ({drain}) must be shorter than ShutdownTimeout ({shutdown})");
            Assert.Equal("shoal", labels["orleans/serviceId"]);
            Assert.Equal(set.Spec.Template.Spec.Containers[0].Env.Single(e => e.Name == "ClusterId").Value, labels["orleans/clusterId"]);
        }
        if (kustomization.EndsWith("azure", StringComparison.Ordinal))
        {
            var silo = objects.OfType<V1StatefulSet>().Single(s => s.Metadata.Name == "shoal-silo");
            Assert.NotEmpty(silo.Spec.Template.Spec.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution);
            Assert.NotEmpty(objects.OfType<V1Ingress>());
        }
        Assert.Contains(objects.OfType<V1NetworkPolicy>(), p => p.Spec.PodSelector.MatchLabels is null or { Count: 0 });
    }

    [Fact]
    public void On_azure_every_silo_and_gateway_gets_the_same_tls_certificate_from_a_secret_readable_by_the_app_user()
    {
        var objects = Manifests.Load("deploy/k8s/overlays/azure");
        var problems = new List<string>();
        int checkedContainers = 0;
        foreach (var (owner, template) in Manifests.PodTemplates(objects))
        {
            var pod = template.Spec;
            foreach (var c in pod.Containers)
            {
                if (SettingsCheck.BinaryOf(c.Image ?? "") is not ("silo" or "gateway")) continue;
                checkedContainers++;
                string where = $"{owner} container {c.Name}";
                var env = (c.Env ?? []).ToDictionary(e => e.Name, e => e.Value, StringComparer.Ordinal);
                foreach (var (name, file) in new[] { ("Tls__CertificatePath", "tls.crt"), ("Tls__KeyPath", "tls.key") })
                {
                    if (!env.TryGetValue(name, out var path) || path is null) { problems.Add($"{where}: no {name}"); continue; }
                    var mount = (c.VolumeMounts ?? []).FirstOrDefault(m => path == m.MountPath.TrimEnd('/') + "/" + file);
                    var volume = mount is null ? null : (pod.Volumes ?? []).FirstOrDefault(v => v.Name == mount.Name);
                    if (volume?.Secret is not { } secret) { problems.Add($"{where}: {name} '{path}' is not a file of a mounted Secret"); continue; }
                    if (secret.SecretName != "shoal-silo-tls") problems.Add($"{where}: TLS from Secret '{secret.SecretName}', expected shoal-silo-tls (one certificate for the cluster)");
                    if (mount!.ReadOnlyProperty != true) problems.Add($"{where}: the TLS volume must be mounted read-only");
                    // Secret files are root-owned: the app (a non-root user) reads them through the pod's fsGroup.
                    if (pod.SecurityContext?.FsGroup is null || ((secret.DefaultMode ?? 420) & 0b000_100_000) == 0)
                        problems.Add($"{where}: the TLS files are not readable by the app user (set fsGroup and a group-readable defaultMode)");
                }
            }
        }
        Assert.True(checkedContainers >= 3, $"only {checkedContainers} silo/gateway containers found");
        Assert.True(problems.Count == 0, string.Join('\n', problems));
    }

    [Fact]
    public void The_azure_GPU_encoder_pool_asks_for_GPUs_on_the_GPU_node_pool()
    {
        var objects = Manifests.Load("deploy/k8s/overlays/azure");
        var encoder = objects.OfType<V1StatefulSet>().Single(s => s.Metadata.Name == "shoal-encoder");
        var pod = encoder.Spec.Template.Spec;
        var container = Assert.Single(pod.Containers);
        Assert.Equal("1", container.Resources.Limits["nvidia.com/gpu"].ToString());
        Assert.NotEmpty(pod.NodeSelector);
        Assert.Contains(pod.Tolerations, t => t.Key == "nvidia.com/gpu");
        Assert.EndsWith("shoal-silo-cuda:0.1.0", container.Image, StringComparison.Ordinal);
        Assert.Contains(container.Env, e => e.Name == "Shoal__Roles" && e.Value == "encoder");
        // No other workload asks for a GPU.
        foreach (var (owner, template) in Manifests.PodTemplates(objects))
            if (owner != "StatefulSet/shoal-encoder")
                Assert.All(template.Spec.Containers, c => Assert.False(c.Resources?.Limits?.ContainsKey("nvidia.com/gpu") ?? false, owner));
    }

    [Theory]
    [InlineData("deploy/k8s/overlays/azure")]
    [InlineData("deploy/k8s/jobs/azure/index")]
    [InlineData("deploy/k8s/jobs/azure/loadtest")]
    public void Azure_kustomizations_pull_every_Shoal_image_from_the_registry(string kustomization)
    {
        // AKS cannot pull localhost/ images: every Shoal container there names the registry the
        // azure overlay uses (the Jobs too, through jobs/azure/*).
        var images = Manifests.PodTemplates(Manifests.Load(kustomization))
            .SelectMany(t => t.Template.Spec.Containers.Concat(t.Template.Spec.InitContainers ?? []))
            .Select(c => c.Image).ToList();
        Assert.NotEmpty(images);
        Assert.All(images, image => Assert.StartsWith("shoalregistry.azurecr.io/shoal-", image, StringComparison.Ordinal));
    }

    [Fact]
    public void The_index_Job_submits_under_a_fixed_job_id_so_a_retried_pod_follows_the_same_job()
    {
        foreach (var kustomization in new[] { "deploy/k8s/jobs/index", "deploy/k8s/jobs/azure/index" })
        {
            var job = Assert.Single(Manifests.Load(kustomization).OfType<V1Job>());
            Assert.True(job.Spec.BackoffLimit > 0, $"{kustomization}: the index Job is retried");
            var args = Assert.Single(job.Spec.Template.Spec.Containers).Args.ToList();
            int at = args.IndexOf("--id");
            Assert.True(at >= 0 && at + 1 < args.Count, $"{kustomization}: jobs submit without --id submits a second job when the pod is retried");
            Assert.Null(Shoal.Grains.Jobs.IndexJobIds.Validate(args[at + 1]));
        }
    }

    [Fact]
    public void The_CPU_encoder_pool_runs_a_built_in_model_on_the_CPU_image_without_GPUs()
    {
        var objects = Manifests.Load("deploy/k8s/overlays/local-encoders");
        var encoder = objects.OfType<V1StatefulSet>().Single(s => s.Metadata.Name == "shoal-encoder");
        var pod = encoder.Spec.Template.Spec;
        var container = Assert.Single(pod.Containers);
        Assert.Equal("silo", SettingsCheck.BinaryOf(container.Image));
        Assert.DoesNotContain("cuda", container.Image, StringComparison.Ordinal);
        Assert.Contains(container.Env, e => e.Name == "Shoal__Roles" && e.Value == "encoder");
        var providers = container.Env.Where(e => e.Name.EndsWith("__ExecutionProvider", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(providers);
        Assert.All(providers, e => Assert.Equal("cpu", e.Value));
        var models = container.Env.Where(e => e.Name.StartsWith("Shoal__Encoders__", StringComparison.Ordinal) && e.Name.EndsWith("__Model", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(models);
        Assert.All(models, e => Assert.NotNull(Shoal.Encoders.BuiltInModels.Find(e.Value)));
        // The models directory it names is a mounted volume, bound to a claim the overlay provides.
        string dir = container.Env.Single(e => e.Name.EndsWith("__ModelsDirectory", StringComparison.Ordinal)).Value;
        var mount = Assert.Single(container.VolumeMounts, m => m.MountPath == dir);
        string claim = pod.Volumes.Single(v => v.Name == mount.Name).PersistentVolumeClaim.ClaimName;
        Assert.Contains(objects.OfType<V1PersistentVolumeClaim>(), c => c.Metadata.Name == claim);
        // No GPU anywhere: no limit, no GPU node selector, no GPU toleration.
        Assert.False(container.Resources.Limits.ContainsKey("nvidia.com/gpu"));
        Assert.False(container.Resources.Requests.ContainsKey("nvidia.com/gpu"));
        Assert.Null(pod.NodeSelector);
        Assert.Null(pod.Tolerations);
    }
}
