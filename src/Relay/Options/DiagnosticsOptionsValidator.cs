using Microsoft.Extensions.Options;
using Relay.Core;

namespace Relay.Options;

/// <summary>Validates <c>Relay:Diagnostics</c> at start, each failure naming its key.</summary>
sealed class DiagnosticsOptionsValidator(IOptions<PipelineOptions> pipeline) : SectionOptionsValidator<DiagnosticsOptions>(DiagnosticsOptions.Section)
{
    protected override IEnumerable<string> Rules(DiagnosticsOptions o)
    {
        foreach (var failure in PositiveDurations((o.LivenessTimeout, nameof(o.LivenessTimeout))))
            yield return failure;
        // An idle relay's confirm loop ticks only every IdleConfirmInterval: liveness must allow a few missed ticks.
        var idleTick = pipeline.Value.IdleConfirmInterval;
        if (o.LivenessTimeout > TimeSpan.Zero && o.LivenessTimeout < idleTick * 3)
            yield return $"{Section}:{nameof(o.LivenessTimeout)}: {o.LivenessTimeout} is below three times {PipelineOptions.Section}:" +
                $"{nameof(PipelineOptions.IdleConfirmInterval)} ({idleTick}): an idle relay would fail /healthz; raise it to at least {idleTick * 3}";
    }
}
