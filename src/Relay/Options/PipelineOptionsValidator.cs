using Relay.Core;

namespace Relay.Options;

/// <summary>Validates <c>Relay:Pipeline</c> at start, each failure naming its key.</summary>
sealed class PipelineOptionsValidator() : SectionOptionsValidator<PipelineOptions>(PipelineOptions.Section)
{
    protected override IEnumerable<string> Rules(PipelineOptions o) => PositiveDurations(
        (o.ConfirmInterval, nameof(o.ConfirmInterval)), (o.IdleConfirmInterval, nameof(o.IdleConfirmInterval)), (o.DrainTimeout, nameof(o.DrainTimeout)),
        (o.RestartDelay, nameof(o.RestartDelay)), (o.MaxRestartDelay, nameof(o.MaxRestartDelay)),
        (o.StandbyRetryInterval, nameof(o.StandbyRetryInterval)), (o.StallWarningAfter, nameof(o.StallWarningAfter)));
}
