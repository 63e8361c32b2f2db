using Microsoft.Extensions.Configuration;
using Shoal.Encoders;

namespace Shoal.Grains.Encoders;

/// <summary>
/// The encoders a silo hosts and its roles. Configuration layout (any <see cref="IConfiguration"/>
/// whose root holds a <c>Shoal</c> section, e.g. appsettings.json or <c>Shoal__Encoders__minilm__ModelPath</c>
/// environment variables):
/// <code>
/// "Shoal": {
///   "Roles": "encoder",                       // optional; see HoldsEncoderRole
///   "Encoders": {
///     "minilm": { "Kind": "dense", "ModelPath": "models/minilm.onnx", "TokenizerPath": "models/tokenizer.json",
///                 "Pooling": "Mean", "Normalize": true, "MaxSequenceLength": 256, "ExecutionProvider": "cpu",
///                 "MaxBatchSize": 32, "MaxBatchWait": "00:00:00.002", "QueueCapacity": 1024 },
///     "splade": { "Kind": "splade", "ModelPath": "models/splade.onnx", "VocabPath": "models/vocab.txt", "SparseTopK": 256 },
///     "doc-v2": { "Kind": "inference-free", "TokenizerPath": "idf/tokenizer.json", "IdfPath": "idf/idf.json" },
///     "bm25":   { "Kind": "bm25" }
///   }
/// }
/// </code>
/// Each <c>Shoal:Encoders:&lt;name&gt;</c> section binds to an <see cref="EncoderOptions"/> (every
/// property of it is a key; unknown keys are errors). <c>Kind</c> is <c>dense</c>, <c>sparse</c>,
/// <c>splade</c> (sparse with a model), <c>inference-free</c> (sparse with an IDF table, no model) or
/// <c>bm25</c>, case-insensitive. Relative paths are relative to the process's current directory.
/// </summary>
public sealed class EncoderPoolsOptions
{
    /// <summary>Configuration section of the named encoders.</summary>
    public const string EncodersSection = "Shoal:Encoders";

    /// <summary>Configuration key of the silo's roles (a comma-separated string or an array).</summary>
    public const string RolesKey = "Shoal:Roles";

    /// <summary>The encoders by name (names: <c>A-Z a-z 0-9 . _ -</c>, at most 64 characters, case-sensitive).</summary>
    public Dictionary<string, EncoderOptions> Encoders { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Explicit roles of the silo, or null (the default) to derive them: with null the silo holds
    /// the encoder role exactly when <see cref="Encoders"/> is not empty. When set, the silo holds the
    /// role when the list contains <c>"encoder"</c> (case-insensitive); that with no encoders is a
    /// startup error, and encoders configured on a silo whose roles exclude it are not loaded. Every
    /// silo holds the <c>data</c> role whatever this says (see <see cref="EffectiveRoles"/>).
    /// </summary>
    public IList<string>? Roles { get; set; }

    /// <summary>
    /// Whether each model encoder encodes one text at startup (default true): the model's output is
    /// checked end to end (inputs, output shape, vocabulary), the dense dimension is learnt when the
    /// model leaves it symbolic, and the first request does not pay for lazy initialisation.
    /// </summary>
    public bool WarmUp { get; set; } = true;

    /// <summary>Whether this silo holds the encoder role (see <see cref="Roles"/>).</summary>
    public bool HoldsEncoderRole => Roles is null
        ? Encoders.Count > 0
        : Roles.Any(r => string.Equals(r?.Trim(), EncoderRoles.EncoderRole, StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// The roles published in silo metadata: <see cref="EncoderRoles.DataRole"/> first (every silo
    /// hosts shard replicas), then <see cref="Roles"/> or, when those are not set, the derived ones
    /// (<c>encoder</c> when encoders are configured); lower case, without duplicates.
    /// </summary>
    public IReadOnlyList<string> EffectiveRoles
    {
        get
        {
            IEnumerable<string> configured = Roles is not null
                ? Roles.Where(r => !string.IsNullOrWhiteSpace(r)).Select(r => r.Trim().ToLowerInvariant())
                : Encoders.Count > 0 ? [EncoderRoles.EncoderRole] : [];
            return [.. new[] { EncoderRoles.DataRole }.Concat(configured).Distinct(StringComparer.Ordinal)];
        }
    }

    /// <summary>
    /// Reads <see cref="EncodersSection"/> and <see cref="RolesKey"/> from <paramref name="configuration"/>
    /// into this instance (encoders of the same name are replaced).
    /// </summary>
    /// <exception cref="EncoderConfigurationException">A section does not bind: an unknown key, a value
    /// of the wrong type, an unknown kind or an invalid name; the message names the encoder.</exception>
    public EncoderPoolsOptions BindFrom(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        foreach (var section in configuration.GetSection(EncodersSection).GetChildren())
            Encoders[section.Key] = BindEncoder(section);

        var roles = configuration.GetSection(RolesKey);
        if (roles.Value is { } list)
            Roles = list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
        else if (roles.GetChildren().Any())
            Roles = roles.GetChildren().Select(c => c.Value ?? "").Where(v => v.Length > 0).ToList();
        return this;
    }

    /// <summary>
    /// Checks names and batching settings, and fills each <see cref="EncoderOptions.Name"/> with its
    /// key. Files are checked when the silo starts (they are loaded then).
    /// </summary>
    /// <exception cref="EncoderConfigurationException">The first problem found, naming the encoder.</exception>
    public void Validate()
    {
        foreach (var (name, options) in Encoders)
        {
            if (!EncoderRoles.IsValidName(name))
                throw new EncoderConfigurationException($"Encoder name '{name}' ({EncodersSection}:{name}) is invalid: use 1 to {EncoderRoles.MaxNameLength} characters from A-Z a-z 0-9 . _ -.");
            if (options is null)
                throw new EncoderConfigurationException($"Encoder '{name}' ({EncodersSection}:{name}) has no settings.");
            options.Name = name;
            try
            {
                options.ToBatcherOptions().Validate();
            }
            catch (ArgumentOutOfRangeException e)
            {
                throw new EncoderConfigurationException($"Encoder '{name}' ({EncodersSection}:{name}): {e.Message}", e);
            }
        }
        if (Roles is not null && HoldsEncoderRole && Encoders.Count == 0)
            throw new EncoderConfigurationException($"The silo's roles ({RolesKey}) include '{EncoderRoles.EncoderRole}' but no encoder is configured under {EncodersSection}.");
    }

    private static EncoderOptions BindEncoder(IConfigurationSection section)
    {
        string name = section.Key;
        string where = $"{EncodersSection}:{name}";
        // Kind accepts the aliases splade / inference-free, which the enum binder does not know: take
        // it out and bind the rest strictly (unknown keys are errors, so typos do not pass silently).
        string? kindText = section["Kind"];
        var rest = section.AsEnumerable(makePathsRelative: true)
            .Where(kv => kv.Value is not null && !string.Equals(kv.Key, "Kind", StringComparison.OrdinalIgnoreCase))
            .ToList();
        var options = new EncoderOptions();
        try
        {
            new ConfigurationBuilder().AddInMemoryCollection(rest).Build().Bind(options, b => b.ErrorOnUnknownConfiguration = true);
        }
        catch (InvalidOperationException e)
        {
            throw new EncoderConfigurationException($"Encoder '{name}' ({where}) cannot be read from configuration: {e.Message}", e);
        }
        options.Name = name;
        if (kindText is null) throw new EncoderConfigurationException($"Encoder '{name}' ({where}) has no Kind; expected dense, sparse, splade, inference-free or bm25.");
        switch (kindText.Trim().ToLowerInvariant())
        {
            case "dense":
                options.Kind = EncoderKind.Dense;
                break;
            case "sparse":
                options.Kind = EncoderKind.Sparse;
                break;
            case "splade":
                options.Kind = EncoderKind.Sparse;
                if (string.IsNullOrWhiteSpace(options.ModelPath))
                    throw new EncoderConfigurationException($"Encoder '{name}' ({where}) is a splade encoder but has no ModelPath.");
                break;
            case "inference-free" or "inferencefree" or "idf":
                options.Kind = EncoderKind.Sparse;
                if (!string.IsNullOrWhiteSpace(options.ModelPath))
                    throw new EncoderConfigurationException($"Encoder '{name}' ({where}) is an inference-free encoder but has a ModelPath; remove it or use Kind splade.");
                if (string.IsNullOrWhiteSpace(options.IdfPath))
                    throw new EncoderConfigurationException($"Encoder '{name}' ({where}) is an inference-free encoder but has no IdfPath.");
                break;
            case "bm25":
                options.Kind = EncoderKind.Bm25;
                break;
            default:
                throw new EncoderConfigurationException($"Encoder '{name}' ({where}) has unknown Kind '{kindText}'; expected dense, sparse, splade, inference-free or bm25.");
        }
        return options;
    }
}
