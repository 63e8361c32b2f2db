using System.Diagnostics;
using k8s;
using k8s.Models;

namespace Shoal.Deploy.Tests;

/// <summary>Renders the kustomizations under deploy/k8s with <c>kubectl kustomize</c> and loads them as typed objects.</summary>
internal static class Manifests
{
    /// <summary>Every kustomization an operator applies: the overlays and the Job kustomizations.</summary>
    public static readonly string[] Kustomizations =
    [
        "deploy/k8s/overlays/local",
        "deploy/k8s/overlays/azure",
        "deploy/k8s/overlays/local-encoders",
        "deploy/k8s/jobs/index",
        "deploy/k8s/jobs/loadtest",
        "deploy/k8s/jobs/azure/index",
        "deploy/k8s/jobs/azure/loadtest",
    ];

    private static readonly Dictionary<string, string> Rendered = new(StringComparer.Ordinal);

    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>The YAML of <paramref name="kustomization"/> as <c>kubectl kustomize</c> renders it (cached per run).</summary>
    public static string Render(string kustomization)
    {
        lock (Rendered)
        {
            if (Rendered.TryGetValue(kustomization, out var yaml)) return yaml;
            var psi = new ProcessStartInfo("kubectl", ["kustomize", Path.Combine(RepoRoot, kustomization)])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            Process process;
            try
            {
                process = Process.Start(psi)!;
            }
            catch (System.ComponentModel.Win32Exception e)
            {
                throw new InvalidOperationException($"kubectl (with kustomize) is needed to render {kustomization}: {e.Message}", e);
            }
            using (process)
            {
                var stdout = process.StandardOutput.ReadToEndAsync();
                string stderr = process.StandardError.ReadToEnd();
                process.WaitForExit();
                if (process.ExitCode != 0) throw new InvalidOperationException($"kubectl kustomize {kustomization} failed: {stderr}");
                yaml = stdout.Result;
            }
            Rendered[kustomization] = yaml;
            return yaml;
        }
    }

    /// <summary>The rendered objects, deserialized strictly: an unknown kind or field throws.</summary>
    public static List<object> Load(string kustomization) =>
        KubernetesYaml.LoadAllFromString(Render(kustomization), typeMap: null, strict: true).ToList();

    /// <summary>Every pod template of the objects with the owning object's name.</summary>
    public static IEnumerable<(string Owner, V1PodTemplateSpec Template)> PodTemplates(IEnumerable<object> objects)
    {
        foreach (var o in objects)
        {
            switch (o)
            {
                case V1Deployment d: yield return ($"Deployment/{d.Metadata.Name}", d.Spec.Template); break;
                case V1StatefulSet s: yield return ($"StatefulSet/{s.Metadata.Name}", s.Spec.Template); break;
                case V1Job j: yield return ($"Job/{j.Metadata.Name}", j.Spec.Template); break;
                case V1DaemonSet ds: yield return ($"DaemonSet/{ds.Metadata.Name}", ds.Spec.Template); break;
                case V1Pod: throw new InvalidOperationException("bare Pods are not expected in the manifests");
            }
        }
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Cluster.sln"))) return dir.FullName;
        throw new InvalidOperationException("Cluster.sln not found above the test assembly.");
    }
}
