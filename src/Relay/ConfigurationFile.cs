using Microsoft.Extensions.Configuration;

namespace Relay;

static class ConfigurationFile
{
    /// <summary>
    /// Adds the file named by <c>--config PATH</c> (or <c>RELAY_CONFIG</c>) over appsettings.json, then puts environment
    /// variables and the command line back on top so they still override it.
    /// </summary>
    public static bool AddRelayConfigFile(this IConfigurationManager configuration, string[] args, out string problem)
    {
        problem = "";
        var index = Array.FindIndex(args, a => a is "--config" or "-c");
        var path = index >= 0 && index + 1 < args.Length ? args[index + 1] : Environment.GetEnvironmentVariable("RELAY_CONFIG");
        if (index >= 0 && index + 1 >= args.Length)
        {
            problem = "--config needs a path: relay --config /etc/relay/relay.json";
            return false;
        }
        if (string.IsNullOrEmpty(path))
            return true;
        var fullPath = Path.GetFullPath(path);
        if (!File.Exists(fullPath))
        {
            problem = $"Configuration file '{fullPath}' does not exist (from {(index >= 0 ? "--config" : "RELAY_CONFIG")}).";
            return false;
        }
        configuration.AddJsonFile(fullPath, optional: false, reloadOnChange: false);
        configuration.AddEnvironmentVariables();
        configuration.AddCommandLine(args);
        return true;
    }
}
