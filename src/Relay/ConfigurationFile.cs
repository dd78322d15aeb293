using Microsoft.Extensions.Configuration;

namespace Relay;

static class ConfigurationFile
{
    /// <summary>
    /// Adds the file named by <c>--config PATH</c> (or <c>RELAY_CONFIG</c>) over appsettings.json, and the secrets
    /// directory named by <c>RELAY_SECRETS_DIR</c> over that, then puts environment variables and the command line back
    /// on top so they still override both.
    /// </summary>
    public static bool AddRelayConfigFile(this IConfigurationManager configuration, string? configPath, string[] overrides, out string problem)
    {
        problem = "";
        // Mounted secrets (a Kubernetes Secret volume): one file per key, named like the environment variable,
        // e.g. Relay__Kafka__Producer__sasl.password. They override the files and lose to real environment variables.
        var secrets = Environment.GetEnvironmentVariable("RELAY_SECRETS_DIR");
        if (!string.IsNullOrEmpty(secrets) && !Directory.Exists(secrets))
        {
            problem = $"Secrets directory '{secrets}' (from RELAY_SECRETS_DIR) does not exist.";
            return false;
        }
        var path = configPath ?? Environment.GetEnvironmentVariable("RELAY_CONFIG");
        if (!string.IsNullOrEmpty(path))
        {
            var fullPath = Path.GetFullPath(path);
            if (!File.Exists(fullPath))
            {
                problem = $"Configuration file '{fullPath}' does not exist (from {(configPath is not null ? "--config" : "RELAY_CONFIG")}).";
                return false;
            }
            configuration.AddJsonFile(fullPath, optional: false, reloadOnChange: false);
        }
        if (string.IsNullOrEmpty(path) && string.IsNullOrEmpty(secrets))
            return true;
        if (!string.IsNullOrEmpty(secrets))
            configuration.AddKeyPerFile(Path.GetFullPath(secrets), optional: false);
        configuration.AddEnvironmentVariables();
        configuration.AddCommandLine(overrides);
        return true;
    }
}
