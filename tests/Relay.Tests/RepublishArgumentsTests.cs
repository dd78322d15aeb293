using Relay.Core;
using Relay.Republish;

namespace Relay.Tests;

/// <summary>
/// <c>relay republish</c>'s arguments: every problem is reported at once, naming its option, and exits 2 before anything
/// connects; a mistyped option is refused rather than taken for a configuration override (it could widen the range).
/// </summary>
public class RepublishArgumentsTests
{
    static (RepublishArguments? Arguments, IReadOnlyList<string> Problems) Read(params string[] arguments)
    {
        var root = RelayCommandLine.Create();
        var command = root.Subcommands.OfType<RepublishCommand>().Single();
        return command.Read(root.Parse(["republish", .. arguments]));
    }

    [Theory]
    [InlineData(new string[0], "say which rows: --from <time> (and --to), --from-value <value> (and --to-value), or --ids-file <path>.")]
    [InlineData(new[] { "--from", "2026-11-30T10:00:00" }, "--from '2026-11-30T10:00:00' has no time zone: add Z for UTC or an offset such as +01:00.")]
    [InlineData(new[] { "--from", "yesterday" }, "--from 'yesterday' is not a time: write it in ISO 8601 with its time zone, e.g. 2026-11-30T10:00:00Z.")]
    [InlineData(new[] { "--from", "2026-11-30T11:00:00Z", "--to", "2026-11-30T10:00:00Z" }, "--from (2026-11-30T11:00:00.0000000+00:00) must be before --to (2026-11-30T10:00:00.0000000+00:00).")]
    [InlineData(new[] { "--from", "2026-11-30T10:00:00Z", "--from-value", "1" }, "--from and --from-value both give the start: use one.")]
    [InlineData(new[] { "--from-value", "1", "--to", "2026-11-30T10:00:00Z", "--to-value", "9" }, "--to and --to-value both give the end: use one.")]
    [InlineData(new[] { "--from", "2026-11-30T10:00:00Z", "--after-id", "e1" }, "--after-id needs --from-value (the order value it is at).")]
    [InlineData(new[] { "--ids-file", "/nonexistent/relay-ids.txt" }, "--ids-file: '/nonexistent/relay-ids.txt' does not exist.")]
    [InlineData(new[] { "--from-value", "1", "--ack-timeout", "soon" }, "--ack-timeout 'soon' is not a positive duration: write e.g. 30s, 2m or 00:05:00.")]
    [InlineData(new[] { "--from-value", "1", "--ack-timeout", "0s" }, "--ack-timeout '0s' is not a positive duration: write e.g. 30s, 2m or 00:05:00.")]
    [InlineData(new[] { "--from-value", "1", "--form", "2" }, "unknown option '--form' (configuration overrides are written --Relay:Section:Key=value).")]
    [InlineData(new[] { "--from-value", "1", "extra" }, "unexpected argument 'extra'.")]
    public void each_problem_names_its_option(string[] arguments, string problem)
    {
        var (parsed, problems) = Read(arguments);
        Assert.Null(parsed);
        Assert.Contains(problem, problems);
    }

    [Fact]
    public void every_problem_is_reported_at_once()
    {
        var (_, problems) = Read("--from", "today", "--to", "tomorrow", "--after-id", "e1", "--ack-timeout", "never");
        Assert.Equal(4, problems.Count);
    }

    /// <summary>Runs the command line as <c>relay</c> would, returning its exit code and what it wrote on stderr.</summary>
    static async Task<(int ExitCode, string Error)> InvokeAsync(params string[] arguments)
    {
        var error = Console.Error;
        using var captured = new StringWriter();
        Console.SetError(captured);
        try
        {
            return (await RelayCommandLine.Create().Parse(arguments).InvokeAsync(), captured.ToString());
        }
        finally
        {
            Console.SetError(error);
        }
    }

    [Fact]
    public async Task invalid_arguments_exit_2_before_anything_connects()
    {
        var (exitCode, error) = await InvokeAsync("republish", "--from", "2026-11-30T10:00:00Z", "--too", "2026-11-30T11:00:00Z");
        Assert.Equal(2, exitCode);
        Assert.StartsWith("Invalid argument: unknown option '--too'", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task on_sql_server_it_exits_2_and_says_where_re_publishing_is_done_there()
    {
        var (exitCode, error) = await InvokeAsync("republish", "--from", "2026-11-30T10:00:00Z",
            "--Relay:Source=SqlServer", "--Relay:SqlServer:ConnectionString=Server=nowhere.invalid;Database=orders",
            "--Relay:Kafka:BootstrapServers=nowhere.invalid:9092", "--Relay:Outbox:Tables:0:Table=dbo.outbox");
        Assert.Equal(2, exitCode);
        Assert.StartsWith("relay republish reads PostgreSQL outbox tables only (Relay:Source is SqlServer).", error, StringComparison.Ordinal);
        Assert.Contains("docs/sqlserver.md", error);
    }

    [Fact]
    public void valid_arguments_are_read_with_configuration_overrides_in_either_form()
    {
        var (parsed, problems) = Read("--config", "relay.json", "--table", "public.outbox", "--from", "2026-11-30T10:00:00+01:00", "--to", "2026-11-30T11:00:00Z",
            "--ack-timeout", "90s", "--Relay:Kafka:BootstrapServers=kafka:9092", "--Relay:Pipeline:MaxInFlightMessages", "50", "--dry-run");
        Assert.Empty(problems);
        Assert.NotNull(parsed);
        Assert.Equal(Path.GetFullPath("relay.json"), Path.GetFullPath(parsed.ConfigPath!));
        Assert.Equal("public.outbox", parsed.Table);
        Assert.Equal(new DateTimeOffset(2026, 11, 30, 9, 0, 0, TimeSpan.Zero), parsed.From);
        Assert.Equal(TimeSpan.FromSeconds(90), parsed.AckTimeout);
        Assert.True(parsed.DryRun);
        Assert.Equal(["--Relay:Kafka:BootstrapServers=kafka:9092", "--Relay:Pipeline:MaxInFlightMessages", "50"], parsed.Overrides);
    }

    [Theory]
    [InlineData("500ms", 0.5)]
    [InlineData("30s", 30)]
    [InlineData("2m", 120)]
    [InlineData("1h", 3600)]
    [InlineData("00:05:00", 300)]
    public void ack_timeouts_are_read_in_units_or_as_a_timespan(string text, double seconds)
    {
        var (parsed, _) = Read("--from-value", "1", "--ack-timeout", text);
        Assert.Equal(TimeSpan.FromSeconds(seconds), parsed!.AckTimeout);
    }

    [Fact]
    public void instants_reach_the_database_with_their_offset_and_values_as_given()
    {
        var (parsed, _) = Read("--from", "2026-11-30T10:00:00.25+01:00", "--to-value", "2026-11-30 12:00");
        var selection = parsed!.Selection(Mappings.Table(new OutboxTableOptions { Table = "public.outbox" }));
        Assert.Equal(new RangeBound("2026-11-30T10:00:00.25+01:00", IsInstant: true), selection.From);
        Assert.Equal(new RangeBound("2026-11-30 12:00", IsInstant: false), selection.To);
        Assert.Null(selection.EventIds);
    }

    [Fact]
    public void the_resume_command_starts_after_the_last_acknowledged_row_keeps_the_end_and_quotes_for_a_shell()
    {
        var (parsed, _) = Read("--from", "2026-11-30T10:00:00Z", "--to", "2026-11-30T11:00:00Z", "--ack-timeout", "2m",
            "--Relay:Postgres:ConnectionString=Host=db;Password=s3cret", "--Relay:Kafka:Producer:sasl.password", "hunter2", "--Relay:Pipeline:MaxInFlightMessages=50");
        var after = new RowKey("2026-11-30 10:41:07.123456+00", "o'brien-1");

        Assert.Equal("relay republish --table public.outbox --from-value '2026-11-30 10:41:07.123456+00' --after-id 'o'\\''brien-1' " +
                     "--to 2026-11-30T11:00:00+00:00 --ack-timeout 2m '--Relay:Postgres:ConnectionString=Host=db;Password=s3cret' " +
                     "--Relay:Kafka:Producer:sasl.password hunter2 --Relay:Pipeline:MaxInFlightMessages=50",
            parsed!.ResumeCommand("relay", "public.outbox", after));
        var logged = parsed.ResumeCommand("relay", "public.outbox", after, redact: true);
        Assert.DoesNotContain("s3cret", logged);
        Assert.DoesNotContain("hunter2", logged);
        Assert.Contains("--Relay:Pipeline:MaxInFlightMessages=50", logged);
    }

    [Fact]
    public void a_resume_command_reads_back_as_the_selection_after_that_row()
    {
        var (parsed, _) = Read("--from-value", "2026-11-30 10:41:07+00", "--after-id", "e-17", "--to-value", "2026-11-30 11:00:00+00");
        Assert.Equal("after (created_at '2026-11-30 10:41:07+00', event id 'e-17') and created_at < '2026-11-30 11:00:00+00'", parsed!.Describe("created_at"));
        var selection = parsed.Selection(Mappings.Table(new OutboxTableOptions { Table = "public.outbox" }));
        Assert.Equal("e-17", selection.AfterEventId);
        Assert.Equal(new RangeBound("2026-11-30 10:41:07+00", IsInstant: false), selection.From);
    }
}
