using Relay.Core;

namespace Relay.Tests;

/// <summary>Table mappings for tests: resolved as Relay resolves them, with their problems.</summary>
static class Mappings
{
    /// <summary>A table that must resolve without a problem.</summary>
    public static OutboxTableMapping Table(OutboxTableOptions options, int index = 0)
    {
        var problems = new List<string>();
        var mapping = OutboxTableMapping.Create(options, index, problems);
        Assert.Empty(problems);
        return mapping!;
    }

    /// <summary>A message prefix that must resolve without a problem.</summary>
    public static OutboxTableMapping Message(OutboxMessageOptions options, int index = 0)
    {
        var problems = new List<string>();
        var mapping = OutboxTableMapping.Create(options, index, problems);
        Assert.Empty(problems);
        return mapping!;
    }

    /// <summary>Every problem of one table, on one line each.</summary>
    public static string Problems(OutboxTableOptions options, int index = 0)
    {
        var problems = new List<string>();
        OutboxTableMapping.Create(options, index, problems);
        return string.Join(Environment.NewLine, problems);
    }

    public static IReadOnlyList<string> Problems(OutboxOptions options)
    {
        var problems = new List<string>();
        OutboxTableMapping.Create(options, problems);
        return problems;
    }
}
