using Microsoft.Extensions.Options;

namespace Relay.Core;

/// <summary>
/// The outbox tables and message prefixes as resolved from <c>Relay:Outbox</c>: resolved once, by options validation
/// (which reports every problem with the others at start), and read by the sources and the pipeline.
/// </summary>
public sealed class OutboxMapping(IOptions<OutboxOptions> options, OutboxMappingResolver resolver)
{
    /// <summary>The configured tables; reading them validates <c>Relay:Outbox</c> first (it throws when invalid).</summary>
    public IReadOnlyList<OutboxTableMapping> Tables
    {
        get
        {
            _ = options.Value;   // runs the validator, which resolves the tables
            return resolver.Tables ?? throw new InvalidOperationException($"{OutboxOptions.Section} was not validated.");
        }
    }

    /// <summary>The configured <c>pg_logical_emit_message</c> prefixes (PostgreSQL only); often none.</summary>
    public IReadOnlyList<OutboxTableMapping> Messages
    {
        get
        {
            _ = options.Value;
            return resolver.Messages ?? throw new InvalidOperationException($"{OutboxOptions.Section} was not validated.");
        }
    }

    /// <summary>Tables, then message prefixes: everything that becomes a Kafka message.</summary>
    public IEnumerable<OutboxTableMapping> All => Tables.Concat(Messages);

    /// <summary>A mapping of the given tables, resolved now (tests, tools); throws when the options are invalid.</summary>
    public static OutboxMapping For(OutboxOptions outbox)
    {
        var resolver = new OutboxMappingResolver();
        if (resolver.Resolve(outbox) is { Count: > 0 } problems)
            throw new RelayConfigurationException(string.Join(Environment.NewLine, problems));
        return new OutboxMapping(Microsoft.Extensions.Options.Options.Create(outbox), resolver);
    }
}

/// <summary>Resolves <c>Relay:Outbox</c> into table and message mappings once and keeps them (for <see cref="OutboxMapping"/>).</summary>
public sealed class OutboxMappingResolver
{
    volatile Resolved? _resolved;

    public IReadOnlyList<OutboxTableMapping>? Tables => _resolved?.Tables;

    public IReadOnlyList<OutboxTableMapping>? Messages => _resolved?.Messages;

    /// <summary>Resolves <paramref name="outbox"/>, keeping the result; returns every problem found.</summary>
    public IReadOnlyList<string> Resolve(OutboxOptions outbox)
    {
        var problems = new List<string>();
        var tables = OutboxTableMapping.Create(outbox, problems);
        _resolved = new Resolved(tables, OutboxTableMapping.CreateMessages(outbox, problems));
        return problems;
    }

    sealed record Resolved(IReadOnlyList<OutboxTableMapping> Tables, IReadOnlyList<OutboxTableMapping> Messages);
}

/// <summary>Validates <c>Relay:Outbox</c> by resolving its tables once, reporting every problem.</summary>
public sealed class OutboxOptionsValidator(OutboxMappingResolver resolver) : SectionOptionsValidator<OutboxOptions>(OutboxOptions.Section)
{
    protected override IEnumerable<string> Rules(OutboxOptions options) => resolver.Resolve(options);
}
