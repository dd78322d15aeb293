using System.Globalization;
using System.Text.RegularExpressions;
using Relay.Core;

namespace Relay.Republish;

/// <summary>What <c>relay republish</c> was asked to do, validated (see <see cref="RepublishCommand.Read"/>).</summary>
sealed partial record RepublishArguments
{
    public string? ConfigPath { get; init; }
    public string? Table { get; init; }
    public DateTimeOffset? From { get; init; }
    public DateTimeOffset? To { get; init; }
    public string? FromValue { get; init; }
    public string? ToValue { get; init; }
    public string? AfterId { get; init; }
    /// <summary>Full path.</summary>
    public string? IdsFile { get; init; }
    public TimeSpan AckTimeout { get; init; } = RepublishCommand.DefaultAckTimeout;
    /// <summary>As given, for the resume command; null for the default.</summary>
    public string? AckTimeoutText { get; init; }
    public bool DryRun { get; init; }
    /// <summary>Configuration overrides, as given (<c>--Relay:Kafka:BootstrapServers=…</c>).</summary>
    public IReadOnlyList<string> Overrides { get; init; } = [];

    /// <summary>The selection for <paramref name="table"/>, the ids file read lazily (one id per line, blank lines and # comments skipped).</summary>
    public RowSelection Selection(OutboxTableMapping table) => new(
        table,
        From is { } from ? new RangeBound(Iso(from), IsInstant: true) : FromValue is { } fromValue ? new RangeBound(fromValue, IsInstant: false) : null,
        To is { } to ? new RangeBound(Iso(to), IsInstant: true) : ToValue is { } toValue ? new RangeBound(toValue, IsInstant: false) : null,
        AfterId,
        IdsFile is null ? null : ReadIds(IdsFile));

    static IEnumerable<string> ReadIds(string path) =>
        File.ReadLines(path).Select(line => line.Trim()).Where(line => line.Length > 0 && !line.StartsWith('#'));

    static string Iso(DateTimeOffset instant) => instant.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFFzzz", CultureInfo.InvariantCulture);

    /// <summary>The selection in words, e.g. <c>created_at &gt;= '2026-11-30T10:00:00Z' and &lt; '…'</c>.</summary>
    public string Describe(string orderColumn)
    {
        var parts = new List<string>();
        if (From is { } from)
            parts.Add($"{orderColumn} >= '{from:yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK}'");
        else if (FromValue is not null)
            parts.Add(AfterId is null ? $"{orderColumn} >= '{FromValue}'" : $"after ({orderColumn} '{FromValue}', event id '{AfterId}')");
        if (To is { } to)
            parts.Add($"{orderColumn} < '{to:yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK}'");
        else if (ToValue is not null)
            parts.Add($"{orderColumn} < '{ToValue}'");
        if (IdsFile is not null)
            parts.Add($"event ids listed in {IdsFile}");
        return string.Join(" and ", parts);
    }

    /// <summary>
    /// The command that re-publishes the rest after <paramref name="after"/>: this one, starting just after that row.
    /// With <paramref name="redact"/>, the values of overrides that may hold secrets are left out (for logs).
    /// </summary>
    public string ResumeCommand(string invocation, string table, RowKey after, bool redact = false)
    {
        var arguments = new List<string> { "republish" };
        if (ConfigPath is not null)
            arguments.AddRange(["--config", Path.GetFullPath(ConfigPath)]);
        arguments.AddRange(["--table", table, "--from-value", after.OrderValue, "--after-id", after.EventId!]);
        if (To is { } to)
            arguments.AddRange(["--to", $"{to:yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK}"]);
        else if (ToValue is not null)
            arguments.AddRange(["--to-value", ToValue]);
        if (IdsFile is not null)
            arguments.AddRange(["--ids-file", IdsFile]);
        if (AckTimeoutText is not null)
            arguments.AddRange(["--ack-timeout", AckTimeoutText]);
        for (var i = 0; i < Overrides.Count; i++)
        {
            var token = Overrides[i];
            var secret = redact && SecretKey().IsMatch(token.Split('=', 2)[0]);
            if (secret && token.Contains('=', StringComparison.Ordinal))
                token = token.Split('=', 2)[0] + "=***";
            else if (secret && i + 1 < Overrides.Count && !Overrides[i + 1].StartsWith("--", StringComparison.Ordinal))
            {
                arguments.AddRange([token, "***"]);
                i++;
                continue;
            }
            arguments.Add(token);
        }
        return invocation + " " + string.Join(" ", arguments.Select(ShellQuote));
    }

    [GeneratedRegex("password|secret|connectionstring|sasl\\.|ssl\\.key", RegexOptions.IgnoreCase)]
    private static partial Regex SecretKey();

    /// <summary>POSIX shell quoting: plain words as they are, anything else in single quotes.</summary>
    public static string ShellQuote(string word) =>
        word.Length > 0 && PlainWord().IsMatch(word) ? word : "'" + word.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    [GeneratedRegex("^[A-Za-z0-9_./:=@%+,-]+$")]
    private static partial Regex PlainWord();
}
