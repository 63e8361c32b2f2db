namespace Shoal.Integration.Tests;

/// <summary>Removes a test's scratch directory.</summary>
internal static class TempDirectory
{
    /// <summary>
    /// Deletes <paramref name="path"/> and everything under it, trying again for a few seconds when
    /// the delete fails because a file appeared while it ran (a silo or job that was just stopped
    /// can still be closing its last write). A directory that does not exist is not an error.
    /// </summary>
    public static void Delete(string path)
    {
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
                return;
            }
            catch (IOException) when (attempt < 20)
            {
                Thread.Sleep(250);
            }
        }
    }
}
