using System.CommandLine;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Relay.Republish;

/// <summary>
/// <c>relay republish</c>: sends an outbox table's rows to Kafka again, selected by a range of its order column and/or a
/// file of event ids. Other arguments are configuration overrides (<c>--Relay:Kafka:BootstrapServers=…</c>), as for the
/// daemon; anything else is refused, so a mistyped option can never widen the range.
/// </summary>
sealed partial class RepublishCommand : Command
{
    readonly Option<string?> _config;
    readonly Option<string?> _table = new("--table") { Description = "The outbox table, as configured under Relay:Outbox:Tables (needed when several are).", HelpName = "schema.table" };
    readonly Option<string?> _from = new("--from") { Description = "First commit time to re-publish, inclusive, with its time zone: 2026-11-30T10:00:00Z (the order column must be timestamptz).", HelpName = "time" };
    readonly Option<string?> _to = new("--to") { Description = "End of the time range, exclusive (default: the newest row at start).", HelpName = "time" };
    readonly Option<string?> _fromValue = new("--from-value") { Description = "First value of the order column to re-publish, inclusive, in the column's own terms.", HelpName = "value" };
    readonly Option<string?> _toValue = new("--to-value") { Description = "End of the order column's range, exclusive.", HelpName = "value" };
    readonly Option<string?> _afterId = new("--after-id") { Description = "With --from-value: the rows at exactly that value go only after this event id (the resume point an interrupted run prints).", HelpName = "event id" };
    readonly Option<string?> _idsFile = new("--ids-file") { Description = "File of event ids to re-publish, one per line (blank lines and lines starting with # are skipped); with a range, both apply.", HelpName = "path" };
    readonly Option<string?> _ackTimeout = new("--ack-timeout") { Description = "Give up when Kafka acknowledges nothing for this long while messages wait: 30s, 2m, 00:05:00 (default 60s).", HelpName = "duration" };
    readonly Option<bool> _dryRun = new("--dry-run") { Description = "Count and check the selection, send nothing." };

    public static readonly TimeSpan DefaultAckTimeout = TimeSpan.FromSeconds(60);

    public RepublishCommand(Option<string?> config)
        : base("republish", "Send an outbox table's rows to Kafka again (read with an ordinary query, mapped as streaming maps them, with header relay.republished: true); " +
                            "exit 0 only when Kafka acknowledged every one. Safe while the daemon runs.")
    {
        _config = config;
        TreatUnmatchedTokensAsErrors = false;
        foreach (var option in new Option[] { _table, _from, _to, _fromValue, _toValue, _afterId, _idsFile, _ackTimeout, _dryRun })
            Options.Add(option);
        SetAction((result, _) =>
        {
            var (arguments, problems) = Read(result);
            if (arguments is null)
            {
                foreach (var problem in problems)
                    Console.Error.WriteLine($"Invalid argument: {problem}");
                return Task.FromResult(RepublishVerb.InvalidExitCode);
            }
            return RepublishVerb.RunAsync(arguments);
        });
    }

    /// <summary>The validated arguments, or every problem with them (each naming its option).</summary>
    public (RepublishArguments? Arguments, IReadOnlyList<string> Problems) Read(ParseResult result)
    {
        var problems = new List<string>();
        var from = Instant(result.GetValue(_from), "--from", problems);
        var to = Instant(result.GetValue(_to), "--to", problems);
        var (fromValue, toValue, afterId, idsFile) = (result.GetValue(_fromValue), result.GetValue(_toValue), result.GetValue(_afterId), result.GetValue(_idsFile));
        if (result.GetValue(_from) is not null && fromValue is not null)
            problems.Add("--from and --from-value both give the start: use one.");
        if (result.GetValue(_to) is not null && toValue is not null)
            problems.Add("--to and --to-value both give the end: use one.");
        if (afterId is not null && fromValue is null)
            problems.Add("--after-id needs --from-value (the order value it is at).");
        if (from is not null && to is not null && from >= to)
            problems.Add($"--from ({from:O}) must be before --to ({to:O}).");
        if (result.GetValue(_from) is null && fromValue is null && idsFile is null)
            problems.Add("say which rows: --from <time> (and --to), --from-value <value> (and --to-value), or --ids-file <path>.");
        if (idsFile is not null && !File.Exists(idsFile))
            problems.Add($"--ids-file: '{Path.GetFullPath(idsFile)}' does not exist.");
        var ackTimeout = result.GetValue(_ackTimeout) is { } text ? Duration(text, "--ack-timeout", problems) : DefaultAckTimeout;
        var overrides = Overrides(result.UnmatchedTokens, problems);
        if (problems.Count > 0)
            return (null, problems);
        return (new RepublishArguments
        {
            ConfigPath = result.GetValue(_config),
            Table = result.GetValue(_table),
            From = from,
            To = to,
            FromValue = fromValue,
            ToValue = toValue,
            AfterId = afterId,
            IdsFile = idsFile is null ? null : Path.GetFullPath(idsFile),
            AckTimeout = ackTimeout,
            AckTimeoutText = result.GetValue(_ackTimeout),
            DryRun = result.GetValue(_dryRun),
            Overrides = overrides,
        }, []);
    }

    /// <summary>An instant with its time zone: a bare local time would mean something else on every machine.</summary>
    static DateTimeOffset? Instant(string? text, string option, List<string> problems)
    {
        if (text is null)
            return null;
        if (!DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var instant))
            problems.Add($"{option} '{text}' is not a time: write it in ISO 8601 with its time zone, e.g. 2026-11-30T10:00:00Z.");
        else if (!ZoneSuffix().IsMatch(text.Trim()))
            problems.Add($"{option} '{text}' has no time zone: add Z for UTC or an offset such as +01:00.");
        else
            return instant;
        return null;
    }

    [GeneratedRegex(@"(Z|[+-]\d{2}(:?\d{2})?)$", RegexOptions.IgnoreCase)]
    private static partial Regex ZoneSuffix();

    /// <summary>30s, 2m, 1h, 500ms, or a TimeSpan (00:01:00); positive.</summary>
    internal static TimeSpan Duration(string text, string option, List<string> problems)
    {
        var match = DurationUnits().Match(text.Trim());
        TimeSpan? value = match.Success
            ? match.Groups[2].Value switch
            {
                "ms" => TimeSpan.FromMilliseconds(int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture)),
                "s" => TimeSpan.FromSeconds(int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture)),
                "m" => TimeSpan.FromMinutes(int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture)),
                _ => TimeSpan.FromHours(int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture)),
            }
            : TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var span) ? span : null;
        if (value is { } positive && positive > TimeSpan.Zero)
            return positive;
        problems.Add($"{option} '{text}' is not a positive duration: write e.g. 30s, 2m or 00:05:00.");
        return DefaultAckTimeout;
    }

    [GeneratedRegex(@"^(\d{1,9})(ms|s|m|h)$")]
    private static partial Regex DurationUnits();

    /// <summary>
    /// Configuration overrides as the daemon takes them (<c>--Section:Key=value</c> or <c>--Section:Key value</c>);
    /// any other token is a mistake to report.
    /// </summary>
    static List<string> Overrides(IReadOnlyList<string> tokens, List<string> problems)
    {
        var overrides = new List<string>();
        for (var i = 0; i < tokens.Count; i++)
        {
            var token = tokens[i];
            var key = token.StartsWith("--", StringComparison.Ordinal) ? token[2..].Split('=', 2)[0] : null;
            if (key is null || !key.Contains(':', StringComparison.Ordinal))
            {
                problems.Add(token.StartsWith('-')
                    ? $"unknown option '{token}' (configuration overrides are written --Relay:Section:Key=value)."
                    : $"unexpected argument '{token}'.");
                continue;
            }
            overrides.Add(token);
            if (!token.Contains('=', StringComparison.Ordinal) && i + 1 < tokens.Count && !tokens[i + 1].StartsWith("--", StringComparison.Ordinal))
                overrides.Add(tokens[++i]);
        }
        return overrides;
    }
}
