using Microsoft.Extensions.Options;

namespace Relay.Core;

/// <summary>
/// The outbox tables as resolved from <c>Relay:Outbox</c>: resolved once, by options validation (which reports every
/// problem with the others at start), and read by the sources and the pipeline.
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

    /// <summary>A mapping of the given tables, resolved now (tests, tools); throws when the options are invalid.</summary>
    public static OutboxMapping For(OutboxOptions outbox)
    {
        var resolver = new OutboxMappingResolver();
        if (resolver.Resolve(outbox) is { Count: > 0 } problems)
            throw new RelayConfigurationException(string.Join(Environment.NewLine, problems));
        return new OutboxMapping(Microsoft.Extensions.Options.Options.Create(outbox), resolver);
    }
}

/// <summary>Resolves <c>Relay:Outbox</c> into table mappings once and keeps them (for <see cref="OutboxMapping"/>).</summary>
public sealed class OutboxMappingResolver
{
    volatile IReadOnlyList<OutboxTableMapping>? _tables;

    public IReadOnlyList<OutboxTableMapping>? Tables => _tables;

    /// <summary>Resolves <paramref name="outbox"/>, keeping the result; returns every problem found.</summary>
    public IReadOnlyList<string> Resolve(OutboxOptions outbox)
    {
        var problems = new List<string>();
        _tables = OutboxTableMapping.Create(outbox, problems);
        return problems;
    }
}

/// <summary>Validates <c>Relay:Outbox</c> by resolving its tables once, reporting every problem.</summary>
public sealed class OutboxOptionsValidator(OutboxMappingResolver resolver) : SectionOptionsValidator<OutboxOptions>(OutboxOptions.Section)
{
    protected override IEnumerable<string> Rules(OutboxOptions options) => resolver.Resolve(options);
}
