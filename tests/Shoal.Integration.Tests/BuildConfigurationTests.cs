namespace Shoal.Integration.Tests;

/// <summary>
/// Tests that start the silo or the shoal tool as processes find them in the configuration this
/// assembly was built in, whatever its name (not only Release or Debug).
/// </summary>
public sealed class BuildConfigurationTests
{
    [Fact]
    public void The_recorded_configuration_is_the_one_the_test_and_the_processes_it_starts_were_built_in()
    {
        // bin/<configuration>/net10.0/: the compiler's record and the output path agree.
        string outputDirectory = Path.GetDirectoryName(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar))!;
        Assert.Equal(Path.GetFileName(outputDirectory), Paths.Configuration);
        Assert.True(File.Exists(Paths.BuildOutput("Silo", "Shoal.Silo.dll")), Paths.BuildOutput("Silo", "Shoal.Silo.dll"));
        Assert.True(File.Exists(Paths.BuildOutput("Client/Shoal.Cli", "shoal.dll")), Paths.BuildOutput("Client/Shoal.Cli", "shoal.dll"));
    }
}
