using Microsoft.Extensions.Options;

namespace Relay.Core;

/// <summary>
/// The configured outbox tables' mappings, built on first use so that an invalid mapping is reported by options
/// validation (with every other problem) rather than by whichever service happens to be constructed first.
/// </summary>
public sealed class OutboxTables(IOptions<OutboxOptions> options)
{
    readonly Lazy<IReadOnlyList<OutboxTableMapping>> _mappings = new(() => OutboxTableMapping.Create(options.Value));

    public IReadOnlyList<OutboxTableMapping> Mappings => _mappings.Value;
}
