using System.CommandLine;
using Relay.Republish;

namespace Relay;

/// <summary>
/// <c>relay [run]</c> streams (the default), <c>relay check</c> checks the prerequisites, <c>relay republish</c> sends
/// rows of an outbox table again (see <see cref="RepublishCommand"/>); all read <c>--config</c>.
/// Other arguments are configuration overrides (<c>--Relay:Kafka:BootstrapServers=…</c>), as .NET hosts accept them.
/// </summary>
static class RelayCommandLine
{
    public static RootCommand Create()
    {
        var config = new Option<string?>("--config", "-c")
        {
            Description = "Configuration file (JSON) over appsettings.json; environment variables override it. Default: $RELAY_CONFIG.",
            Recursive = true,
        };
        var run = new Command("run", "Publish the outbox tables' inserts to Kafka until stopped (the default).")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        var check = new Command("check", "Check every prerequisite of the database and the broker, changing nothing: PASS, WARN or FAIL with the fix; exit 1 on any FAIL.")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        var root = new RootCommand("Relay: publishes the rows applications insert into their outbox tables to Kafka, by tailing the database's transaction log.")
        {
            config, run, check, new RepublishCommand(config),
        };
        root.TreatUnmatchedTokensAsErrors = false;

        Func<ParseResult, CancellationToken, Task<int>> runRelay = (result, _) =>
            RelayHost.RunAsync(result.GetValue(config), [.. result.UnmatchedTokens]);
        root.SetAction(runRelay);
        run.SetAction(runRelay);
        check.SetAction((result, _) => Preflight.RunAsync(result.GetValue(config), [.. result.UnmatchedTokens]));
        return root;
    }
}
