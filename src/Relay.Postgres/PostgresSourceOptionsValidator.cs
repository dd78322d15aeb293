using Relay.Core;

namespace Relay.Postgres;

/// <summary>Validates <c>Relay:Postgres</c> at start: its annotations and positive durations, each failure naming its key.</summary>
sealed class PostgresSourceOptionsValidator() : SectionOptionsValidator<PostgresSourceOptions>(PostgresSourceOptions.Section)
{
    protected override IEnumerable<string> Rules(PostgresSourceOptions options) => PositiveDurations(
        (options.IdleAcknowledgeInterval, nameof(options.IdleAcknowledgeInterval)),
        (options.WalReceiverStatusInterval, nameof(options.WalReceiverStatusInterval)),
        (options.LagSampleInterval, nameof(options.LagSampleInterval)),
        (options.SlotCreationTimeout, nameof(options.SlotCreationTimeout)));
}
