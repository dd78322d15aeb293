using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Logging;
using Relay.Core;
using Relay.Instrumentation;
using Relay.Mapping;

namespace Relay.Republish;

/// <summary>
/// One selection being re-published: what it tells the person running it (stderr) and the log before, during and after
/// the run, and the exit code that sums it up.
/// </summary>
sealed class RepublishSession(RepublishArguments arguments, OutboxTableMapping table, SelectedRows rows, TextWriter output, ILogger logger)
{
    readonly string _selection = arguments.Describe(rows.OrderColumn);
    bool _incomplete;

    /// <summary>Reports what was found; returns the exit code when there is nothing to run.</summary>
    public int? Prepare()
    {
        foreach (var warning in rows.Warnings)
            output.WriteLine($"Warning: {warning}");
        Unavailable(rows.MissingEventIds, $"no row in the range selected has the event id (a row deleted after it was published is gone)");
        Unavailable(rows.RowsWithoutOrderValue, $"their {rows.OrderColumn} is NULL, so they have no place in the table's order");
        if (rows.Total == 0)
        {
            output.WriteLine($"No rows of {table.QualifiedName} match {_selection}: nothing was re-published.");
            output.WriteLine("Rows deleted from the outbox after they were published (the cleanup Debezium recommends, deleting each row right after " +
                             "its insert) are gone and cannot be re-published: keep outbox rows for a retention period to be able to.");
            Log.RepublishFoundNothing(logger, table.QualifiedName, _selection);
            return _incomplete ? RepublishVerb.IncompleteExitCode : RepublishVerb.SucceededExitCode;
        }
        if (rows.RowsWithoutEventId > 0 && table.Options.OnUnpublishableRow == UnpublishableRowPolicy.Stop)
        {
            output.WriteLine($"Failed: {rows.RowsWithoutEventId:N0} selected row(s) of {table.QualifiedName} have a NULL event id " +
                             $"('{table.Options.EventIdColumn}'): they cannot be published, and under {table.ConfigurationKey}:OnUnpublishableRow = Stop " +
                             $"nothing is sent. Give them an id, or set that key to DeadLetter to send them to the dead-letter topic; nothing was sent.");
            return RepublishVerb.FailedExitCode;
        }
        output.WriteLine($"Re-publishing {rows.Total:N0} row(s) of {table.QualifiedName} ({_selection}), in ({rows.OrderColumn}, " +
                         $"{table.Options.EventIdColumn}) order, each with header {RepublishRun.RepublishedHeader}: true.");
        if (arguments.DryRun)
        {
            output.WriteLine("Dry run: nothing was sent.");
            return _incomplete ? RepublishVerb.IncompleteExitCode : RepublishVerb.SucceededExitCode;
        }
        Log.RepublishStarting(logger, rows.Total, table.QualifiedName, _selection);
        return null;
    }

    void Unavailable(RowShortfall shortfall, string reason)
    {
        if (shortfall.Count == 0)
            return;
        _incomplete = true;
        var samples = string.Join(", ", shortfall.Samples);
        output.WriteLine($"Not re-published: {shortfall.Count:N0} requested row(s) of {table.QualifiedName}: {reason}; e.g. event ids {samples}.");
        Log.RepublishRowsUnavailable(logger, shortfall.Count, table.QualifiedName, reason, samples);
    }

    public async Task<RunOutcome> RunAsync(RepublishRun run, StopSignals signals)
    {
        var progress = new RepublishProgress(output, terminal: !Console.IsErrorRedirected, table.QualifiedName, rows.Total, TimeProvider.System);
        using var stopProgress = new CancellationTokenSource();
        var showing = ShowProgressAsync(progress, run, stopProgress.Token);
        var outcome = await run.RunAsync(rows, signals.Interrupt, signals.Abandon);
        await stopProgress.CancelAsync();
        await showing;
        progress.Finish(outcome.Acknowledged);
        _elapsed = progress.Elapsed;
        _rate = progress.AverageRate(outcome.Acknowledged);
        return outcome;
    }

    static async Task ShowProgressAsync(RepublishProgress progress, RepublishRun run, CancellationToken stop)
    {
        using var timer = new PeriodicTimer(RepublishProgress.RedrawInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
                progress.Report(run.Acknowledged);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    TimeSpan _elapsed;
    double _rate;

    public int Report(RunOutcome outcome, TableMetrics metrics, StopSignals signals)
    {
        var deadLettered = metrics.DeadLetteredCount;
        var deadLetters = deadLettered == 0 ? "" : $"; {deadLettered:N0} could not be published and went to dead-letter topic {table.Options.DeadLetterTopic}";
        if (outcome.Succeeded)
        {
            output.WriteLine($"Done: {outcome.Acknowledged:N0} row(s) of {table.QualifiedName} re-published in {RepublishProgress.FormatDuration(_elapsed)} " +
                             $"({_rate:N0} rows/s); Kafka acknowledged every message{deadLetters}.");
            if (outcome.Sent < rows.Total)
                output.WriteLine($"{rows.Total - outcome.Sent:N0} row(s) counted at the start were gone when read (deleted meanwhile, e.g. by a cleanup job).");
            Log.RepublishCompleted(logger, outcome.Acknowledged, table.QualifiedName, _selection, deadLettered, _elapsed);
            return _incomplete ? RepublishVerb.IncompleteExitCode : RepublishVerb.SucceededExitCode;
        }

        var key = outcome.AcknowledgedUpTo is { EventId: not null } acknowledged ? acknowledged : null;
        var upTo = key is null ? "(none)" : $"{rows.OrderColumn} {key.OrderValue}, {table.Options.EventIdColumn} {key.EventId}";
        var howFar = outcome.Acknowledged == 0
            ? "Nothing was acknowledged."
            : $"{outcome.Acknowledged:N0} of {rows.Total:N0} row(s) were re-published and acknowledged, up to {upTo}{deadLetters}.";
        var unacknowledged = outcome.Sent - outcome.Acknowledged;
        if (unacknowledged > 0)
            howFar += Environment.NewLine + $"{unacknowledged:N0} row(s) sent after that point were not all acknowledged: some may have reached Kafka, " +
                      "and a resumed run sends them again.";
        var invocation = Invocation();
        var resume = key is null ? null : arguments.ResumeCommand(invocation, table.QualifiedName, key);
        var logged = key is null ? "the same command" : arguments.ResumeCommand(invocation, table.QualifiedName, key, redact: true);
        var next = resume is null ? "Run the same command again to start over." : $"Resume with: {resume}";
        if (outcome.Failure is null)
        {
            output.WriteLine($"Interrupted. {howFar}");
            output.WriteLine(next);
            Log.RepublishInterrupted(logger, table.QualifiedName, outcome.Acknowledged, rows.Total, upTo, logged);
            return signals.ExitCode;
        }
        var reason = Describe(outcome.Failure);
        output.WriteLine($"Failed: {reason}");
        output.WriteLine(howFar);
        output.WriteLine(next);
        Log.RepublishFailed(logger, table.QualifiedName, reason, outcome.Acknowledged, rows.Total, upTo, logged);
        return RepublishVerb.FailedExitCode;
    }

    string Describe(Exception failure) => failure switch
    {
        OutboxRowException row =>
            $"a row of {table.QualifiedName} (event id {row.EventId ?? "NULL"}, {row.Position}) cannot be published: {row.Reason}. Under " +
            $"{table.ConfigurationKey}:OnUnpublishableRow = Stop the run stops there: fix the row or the mapping (or set that key to DeadLetter), then resume.",
        Confluent.Kafka.KafkaException kafka => $"Kafka: {kafka.Error.Code}: {kafka.Error.Reason}.",
        _ => failure.Message,
    };

    /// <summary>How this process was started, to print a command the same person can run: <c>/app/Relay</c> (the image's executable) or <c>dotnet Relay.dll</c>.</summary>
    [UnconditionalSuppressMessage("SingleFile", "IL3000", Justification = "Compiled ahead of time there is no assembly file: the empty location selects the executable's path.")]
    static string Invocation()
    {
        var process = Environment.ProcessPath;
        var assembly = typeof(RepublishVerb).Assembly.Location;
        return process is not null && Path.GetFileNameWithoutExtension(process) == "dotnet" && assembly.Length > 0
            ? $"dotnet {RepublishArguments.ShellQuote(assembly)}"
            : RepublishArguments.ShellQuote(process ?? "relay");
    }
}
