namespace Shoal.Bench.Harness;

/// <summary>
/// A macro benchmark selected by name on the command line. Implementations are discovered by
/// reflection, so adding a workload means adding a class, not editing a shared switch.
/// Every workload prints a table with a peer's (or the machine's) figure beside Shoal's and
/// ends with one line <c>RESULT {json}</c>.
/// </summary>
public interface IWorkload
{
    /// <summary>Name on the command line (e.g. "sparse").</summary>
    string Name { get; }

    /// <summary>One line for the usage text.</summary>
    string Description { get; }

    /// <summary>Runs with the arguments after the workload name; returns the exit code.</summary>
    Task<int> RunAsync(string[] args, CancellationToken cancellationToken);
}
